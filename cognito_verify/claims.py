"""The verified payload of a token, read-only, with typed accessors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = ["Claims"]

_M = TypeVar("_M")


def _freeze(value: Any) -> Any:
    # Claims may be shared between requests (the verified-token cache), so nested
    # values are handed out immutable: a handler that appends to a list cannot grant
    # the next request a group it does not have. Frozen on read, not on construction:
    # most claims are never read as containers, and building Claims is on every
    # cold verification. (Scalars skip the call: most arrays are lists of strings.)
    if isinstance(value, list):
        return tuple([v if type(v) in _SCALARS else _freeze(v) for v in value])
    if isinstance(value, dict):
        return MappingProxyType(
            {k: v if type(v) in _SCALARS else _freeze(v) for k, v in value.items()}
        )
    return value


def _copy(value: Any) -> Any:
    """A private deep copy of lists and dicts, so no caller holds a handle on them."""
    if isinstance(value, list):
        return [v if type(v) in _SCALARS else _copy(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else _copy(v) for k, v in value.items()}
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    return value


_EMPTY: frozenset[str] = frozenset()
_SCALARS = frozenset({str, int, float, bool, type(None)})


class Claims(Mapping[str, Any]):
    """The verified claims of a Cognito ID or access token.

    A read-only mapping of the token's payload (JSON arrays come back as tuples and
    objects as read-only mappings) plus typed properties for the claims every
    Cognito token has. Use :meth:`to_dict` for a plain, JSON-ready copy.

    In claims returned by ``verify``/``averify``, every claim of the claim table
    (``cognito_verify._token.CLAIM_TYPES``, docs/claims.md) has the JSON type Cognito
    writes, in every configuration, so the properties' types hold. Claims outside the
    table (``custom:*``, ``identities``, ``email_verified``, claims a pre-token-generation
    trigger adds) are any JSON value: check their type before relying on it.
    """

    __slots__ = ("_data", "_groups", "_scopes")

    # The payload as parsed (lists and dicts inside), read-only at the top and never
    # handed out: __getitem__ freezes containers on the way out.
    _data: Mapping[str, Any]
    _groups: frozenset[str]  # computed on first use (the slot is unset until then)
    _scopes: frozenset[str]

    def __init__(self, payload: Mapping[str, Any]) -> None:
        _setup(self, {k: v if type(v) in _SCALARS else _copy(v) for k, v in payload.items()})

    @classmethod
    def _owned(cls, payload: dict[str, Any]) -> Claims:
        """Claims over a payload dict that nothing else holds (fresh from the parser),
        without the copy; about 2 us less per cold verification."""
        self = _new(cls)
        _set_data(self, MappingProxyType(payload))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Claims are read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Claims are read-only")

    # Mapping protocol
    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        return value if type(value) in _SCALARS else _freeze(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        # .get, not the properties: repr must not raise for a Claims built by hand
        # without token_use or sub (users' own test doubles), or logging breaks.
        return (
            f"Claims(token_use={self._data.get('token_use')!r}, sub={self._data.get('sub')!r}, "
            f"username={self.username!r}, client_id={self.client_id!r})"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Claims):
            # Compared as plain JSON values: a list and a tuple holding the same items
            # (a hand-built payload) are the same claim.
            return self is other or self.to_dict() == other.to_dict()
        return NotImplemented

    def __hash__(self) -> int:
        # Only scalar values are hashed: a token whose jti is an object or array must not
        # make hash() raise in the caller's code (sets, dict keys, caches).
        jti, iat = self.get("jti"), self.get("iat")
        return hash(
            (
                str(self._data.get("token_use")),
                str(self._data.get("sub")),
                jti if isinstance(jti, str) else None,
                iat if isinstance(iat, int | float) else None,
            )
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Claims, (self.to_dict(),))

    # Typed accessors
    @property
    def sub(self) -> str:
        """The subject: the user's UUID, or the app client id for machine tokens."""
        return str(self._data["sub"])

    @property
    def username(self) -> str | None:
        """``cognito:username`` (ID token) or ``username`` (access token); None for
        client-credentials tokens, which have no user."""
        value = self._data.get("cognito:username", self._data.get("username"))
        return value if isinstance(value, str) else None

    @property
    def token_use(self) -> str:
        """``"id"`` or ``"access"``."""
        return str(self._data["token_use"])

    @property
    def client_id(self) -> str | None:
        """The app client id: ``aud`` of an ID token, ``client_id`` of an access token."""
        use = self._data.get("token_use")
        value = self._data.get("aud") if use == "id" else self._data.get("client_id")
        return value if isinstance(value, str) else None

    @property
    def issuer(self) -> str:
        return str(self._data["iss"])

    @property
    def groups(self) -> frozenset[str]:
        """``cognito:groups`` as a set; empty when the claim is absent."""
        try:
            return self._groups
        except AttributeError:  # first use: the slot is left unset by construction
            raw = self._data.get("cognito:groups")
            groups = (
                frozenset([g for g in raw if isinstance(g, str)])
                if isinstance(raw, list | tuple)
                else _EMPTY
            )
            object.__setattr__(self, "_groups", groups)  # same value from any thread
            return groups

    @property
    def scopes(self) -> frozenset[str]:
        """The space-separated ``scope`` claim as a set; empty when absent (ID tokens)."""
        try:
            return self._scopes
        except AttributeError:
            raw = self._data.get("scope")
            scopes = frozenset(raw.split()) if isinstance(raw, str) else _EMPTY
            object.__setattr__(self, "_scopes", scopes)
            return scopes

    @property
    def issued_at(self) -> float:
        """``iat`` as Unix seconds."""
        return float(self._data["iat"])

    @property
    def expires_at(self) -> float:
        """``exp`` as Unix seconds."""
        return float(self._data["exp"])

    @property
    def auth_time(self) -> float | None:
        """``auth_time``: when the user signed in (Unix seconds); None for machine tokens."""
        value = self._data.get("auth_time")
        return float(value) if type(value) is int or type(value) is float else None

    @property
    def jti(self) -> str | None:
        """``jti``: this token's unique id."""
        value = self._data.get("jti")
        return value if isinstance(value, str) else None

    @property
    def origin_jti(self) -> str | None:
        """``origin_jti``: shared by a refresh token and every token derived from it
        (what Cognito's ``RevokeToken`` revokes); absent from machine tokens."""
        value = self._data.get("origin_jti")
        return value if isinstance(value, str) else None

    @property
    def is_machine(self) -> bool:
        """True for a client-credentials (machine-to-machine) access token."""
        return self.token_use == "access" and self.username is None

    def has_group(self, name: str) -> bool:
        return name in self.groups

    def has_scope(self, name: str) -> bool:
        return name in self.scopes

    def has_any_group(self, names: Iterable[str]) -> bool:
        return not self.groups.isdisjoint(names)

    def has_all_scopes(self, names: Iterable[str]) -> bool:
        return self.scopes.issuperset(names)

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable, JSON-serialisable copy of the payload."""
        return {k: _thaw(v) for k, v in self._data.items()}

    def to_model(self, model: type[_M], *, aliases: Mapping[str, str] | None = None) -> _M:
        """These claims as an instance of ``model``: a dataclass or a pydantic model.

        A field reads the claim of its name, else the claim whose name has every
        non-identifier character turned into ``_`` (``cognito:groups`` fills
        ``cognito_groups``, ``custom:tenant_id`` fills ``custom_tenant_id``);
        ``aliases={"tenant_id": "custom:tenant_id"}`` (field -> claim) names others.
        Values keep their JSON types. See docs/typed-claims.md.

        Raises:
            ClaimsModelError: the claims do not fit the model (HTTP 500).
            ConfigurationError: ``model`` is not a dataclass or pydantic model class.
        """
        from ._model import to_model  # only for users of typed claims

        return to_model(self, model, aliases)


def _setup(claims: Claims, data: dict[str, Any]) -> None:
    # Only _data: _groups and _scopes stay unset until first read (one call fewer each
    # on every cold verification).
    _set_data(claims, MappingProxyType(data))


_set_data = Claims._data.__set__  # type: ignore[attr-defined]  # (the slot's descriptor)
_new = object.__new__
