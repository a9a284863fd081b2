"""Verified claims as the application's own dataclass or pydantic model.

The naming rule: a field reads the claim of exactly its name if there is one, else
the claim whose name, with every character that cannot be in a Python identifier
turned into ``_``, is the field's name. So ``cognito:groups`` fills
``cognito_groups``, ``custom:tenant_id`` fills ``custom_tenant_id`` and
``cognito:username`` fills ``cognito_username``. The prefix is kept on purpose:
stripping it would make ``custom:groups`` and ``cognito:groups`` collide, and a
field's name would no longer say where its value came from. Other names are given
explicitly: ``aliases={"tenant_id": "custom:tenant_id"}`` (field -> claim), a
dataclass field's ``metadata={"claim": "custom:tenant_id"}``, or a pydantic field's
``alias``/``validation_alias``.

Values are the claims' JSON values (arrays as lists, objects as dicts), so claims a
pre token generation trigger adds keep their type. pydantic validates them as the
model says; dataclasses are checked here against simple annotations (str, int,
float, bool, None, Any, unions, Literal, list/tuple/set/frozenset/Sequence,
dict/Mapping), other annotations need a pydantic model. pydantic is never imported:
a model is recognised by its ``model_validate``/``model_fields``.

A token that verified but does not fit the model raises ``ClaimsModelError`` (500):
the same token refreshed would not fit either, so a 401 would send the client into
a sign-in loop and a 403 would hide a server-side mistake (a wrong type, a claim the
pool never issues) from the alerts that watch 5xx. Required claims that some users
legitimately lack belong in ``custom_check`` or in an optional field.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import logging
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from .claims import Claims, _thaw
from .errors import ClaimsModelError, ConfigurationError

M = TypeVar("M")

log = logging.getLogger("cognito_verify")

_NOT_IDENTIFIER = re.compile(r"\W", re.ASCII)
_MISSING: Any = object()


def python_name(claim: str) -> str:
    """The Python name a claim fills: ``cognito:groups`` -> ``cognito_groups``."""
    name = _NOT_IDENTIFIER.sub("_", claim)
    return "_" + name if name[:1].isdigit() else name


class _Lookup:
    """Finds the claim a field reads, by the naming rule above."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.by_python: dict[str, str | None] = {}  # None: two claims, one name
        for claim in data:
            name = python_name(claim)
            if name != claim:
                self.by_python[name] = None if name in self.by_python else claim

    def claim_for(self, field: str, explicit: str | None) -> str | None:
        if explicit is not None:
            return explicit
        if field in self.data:
            return field
        claim = self.by_python.get(field, _MISSING)
        if claim is None:
            raise ClaimsModelError(
                f"two claims map to the field name {field!r}: name the claim with aliases="
            )
        return None if claim is _MISSING else str(claim)

    def value(self, claim: str | None) -> Any:
        if claim is None or claim not in self.data:
            return _MISSING
        return _thaw(self.data[claim])


def to_model(claims: Claims, model: type[M], aliases: Mapping[str, str] | None = None) -> M:
    """Build ``model`` (a dataclass or pydantic model class) from verified claims.

    Raises:
        ClaimsModelError: the claims do not fit the model (500; carries ``.claims``).
        ConfigurationError: ``model`` is neither kind, ``aliases`` names an unknown
            field, or a dataclass annotation cannot be checked here.
    """
    aliases = dict(aliases or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise ConfigurationError("aliases must map field names to claim names (strings)")
    try:
        if isinstance(model, type) and dataclasses.is_dataclass(model):
            return _dataclass(claims, model, aliases)
        if (
            isinstance(model, type)
            and hasattr(model, "model_validate")
            and hasattr(model, "model_fields")
        ):
            return _pydantic(claims, model, aliases)
    except ClaimsModelError as exc:
        exc.claims = claims
        log.error("%s", exc.message)
        raise
    raise ConfigurationError(f"model must be a dataclass or a pydantic model class, got {model!r}")


def _unknown_aliases(model: type, aliases: Mapping[str, str], fields: set[str]) -> None:
    unknown = sorted(set(aliases) - fields)
    if unknown:
        raise ConfigurationError(f"aliases names fields {model.__name__} does not have: {unknown}")


def _dataclass(claims: Claims, model: type[M], aliases: Mapping[str, str]) -> M:
    fields = [f for f in dataclasses.fields(model) if f.init]  # type: ignore[arg-type]
    _unknown_aliases(model, aliases, {f.name for f in fields})
    try:
        hints = typing.get_type_hints(model)
    except Exception as exc:
        raise ConfigurationError(
            f"the annotations of {model.__name__} cannot be resolved ({type(exc).__name__})"
        ) from None
    lookup = _Lookup(claims._data)
    kwargs: dict[str, Any] = {}
    problems: list[str] = []
    for f in fields:
        claim = lookup.claim_for(f.name, aliases.get(f.name) or f.metadata.get("claim"))
        value = lookup.value(claim)
        if value is _MISSING:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required:
                problems.append(f"{f.name}: claim {claim or python_name(f.name)!r} is missing")
            continue
        converted = _convert(value, hints.get(f.name, Any), f"{model.__name__}.{f.name}")
        if converted is _MISSING:
            problems.append(
                f"{f.name}: claim {claim!r} is {_json_type(value)}, "
                f"not {_show_type(hints.get(f.name))}"
            )
            continue
        kwargs[f.name] = converted
    if problems:
        raise ClaimsModelError(
            f"the verified claims do not fit {model.__name__}: " + "; ".join(problems)
        )
    try:
        return model(**kwargs)
    except Exception as exc:  # __post_init__ or a pydantic dataclass refusing
        raise ClaimsModelError(
            f"the verified claims do not fit {model.__name__}: "
            f"its constructor raised {type(exc).__name__}"
        ) from None


def _pydantic(claims: Claims, model: type[M], aliases: Mapping[str, str]) -> M:
    fields: Mapping[str, Any] = model.model_fields  # type: ignore[attr-defined]
    _unknown_aliases(model, aliases, set(fields))
    lookup = _Lookup(claims._data)
    data: dict[str, Any] = {}
    for name, info in fields.items():
        declared = getattr(info, "validation_alias", None)
        if not isinstance(declared, str):
            declared = getattr(info, "alias", None)
        key = declared if isinstance(declared, str) else name
        explicit = aliases.get(name)
        if explicit is None and isinstance(declared, str) and declared in claims._data:
            explicit = declared
        value = lookup.value(lookup.claim_for(name, explicit))
        if value is not _MISSING:
            data[key] = value
    try:
        return model.model_validate(data)  # type: ignore[attr-defined,no-any-return]
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        detail = type(exc).__name__
        if callable(errors):
            # Locations and error kinds only: the values are the user's data.
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', e.get('type'))}"
                for e in errors(include_input=False, include_url=False)
            )
        raise ClaimsModelError(
            f"the verified claims do not fit {model.__name__}: {detail}"
        ) from None


def _json_type(value: Any) -> str:
    return {
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _show_type(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against (and shaped to) the annotation ``tp``, or _MISSING."""
    if tp is Any or tp is object:
        return value
    if tp is None or tp is type(None):
        return value if value is None else _MISSING
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        for arm in args:
            converted = _convert(value, arm, where)
            if converted is not _MISSING:
                return converted
        return _MISSING
    if origin is Literal:
        hit = any(type(value) is type(a) and value == a for a in args)
        return value if hit else _MISSING
    if tp is str:
        return value if type(value) is str else _MISSING
    if tp is bool:
        return value if type(value) is bool else _MISSING
    if tp is int:
        return value if type(value) is int else _MISSING
    if tp is float:
        return float(value) if type(value) in (int, float) else _MISSING
    base = origin or tp
    if base in (list, tuple, set, frozenset, collections.abc.Sequence):
        if type(value) is not list:
            return _MISSING
        if base is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                return _MISSING
            items = [_convert(v, a, where) for v, a in zip(value, args, strict=True)]
        else:
            item = args[0] if args else Any
            items = [_convert(v, item, where) for v in value]
        if any(i is _MISSING for i in items):
            return _MISSING
        if base is tuple:
            return tuple(items)
        if base in (set, frozenset):
            try:
                return base(items)
            except TypeError:  # unhashable items
                return _MISSING
        return items
    if base in (dict, collections.abc.Mapping):
        if type(value) is not dict:
            return _MISSING
        item = args[1] if len(args) == 2 else Any
        out = {k: _convert(v, item, where) for k, v in value.items()}
        return _MISSING if any(v is _MISSING for v in out.values()) else out
    raise ConfigurationError(
        f"{where}: the annotation {_show_type(tp)} cannot be checked for a dataclass; "
        "use a pydantic model, or one of str, int, float, bool, list, dict, Literal"
    )
