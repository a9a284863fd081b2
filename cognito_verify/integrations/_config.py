"""Reading a framework's configuration (Flask ``COGNITO_*`` keys, Django's ``COGNITO_VERIFY``
dict) into ``CognitoVerifier`` arguments, refusing what it does not know.

One reader for every framework, so a typo is refused alike everywhere: an unknown key
such as ``COGNITO_GROUP`` (for ``COGNITO_GROUPS``) would otherwise silently drop a
check. No framework is imported here.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigurationError
from ..verifier import CognitoVerifier

#: Every ``CognitoVerifier`` keyword, in signature order.
PARAMETERS = tuple(
    name for name in inspect.signature(CognitoVerifier.__init__).parameters if name != "self"
)
# No silent defaults: accepting any app client or either token type must be said.
_REQUIRED = ("user_pool_id", "client_id", "token_use")
# A keyword as a whole word in a message (``token_use must be ...``, ``issuer=``).
_KEYWORD = re.compile(r"\b(" + "|".join(sorted(PARAMETERS, key=len, reverse=True)) + r")\b")


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """``" (did you mean 'X'?)"`` for the closest known name, or ``""``."""
    close = difflib.get_close_matches(key.upper(), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_keys(config: Mapping[str, Any], *, prefix: str, own: Iterable[str] = ()) -> list[str]:
    """One message per key of ``config`` (under ``prefix``) that is neither a verifier
    parameter nor one of ``own``; empty when every key is known."""
    known = {prefix + name.upper() for name in PARAMETERS} | {prefix + k for k in own}
    problems = []
    for key in config:
        if not isinstance(key, str):
            if not prefix:  # a dict of our own: every key is ours
                problems.append(f"the key {key!r} is not a string")
        elif key.startswith(prefix) and key not in known:
            problems.append(f"unknown key {key!r}{did_you_mean(key, known)}")
    return problems


def verifier_options(
    config: Mapping[str, Any], *, prefix: str, where: str, own: Iterable[str] = ()
) -> dict[str, Any]:
    """The ``CognitoVerifier`` keywords given in ``config`` as ``prefix + NAME``.

    Args:
        config: the framework's settings (Flask ``app.config``, Django's dict).
        prefix: ``"COGNITO_"`` for Flask, ``""`` for Django's own dict. Keys that do
            not start with it are not ours and are left alone.
        where: how the user names this configuration, for messages
            (``"app.config"``, ``"settings.COGNITO_VERIFY"``).
        own: further keys the adapter reads itself (without the prefix).

    Raises:
        ConfigurationError: an unknown key (with the closest known name), or one of
            ``USER_POOL_ID``, ``CLIENT_ID``, ``TOKEN_USE`` missing.
    """
    problems = unknown_keys(config, prefix=prefix, own=own)
    if problems:
        raise ConfigurationError(f"{where}: {'; '.join(problems)}")
    missing = [prefix + n.upper() for n in _REQUIRED if prefix + n.upper() not in config]
    if missing:
        raise ConfigurationError(
            f"{where} needs {', '.join(missing)} ({prefix}CLIENT_ID and {prefix}TOKEN_USE "
            "may be None to accept any app client / both token types)"
        )
    return {n: config[prefix + n.upper()] for n in PARAMETERS if prefix + n.upper() in config}


def build_verifier(options: Mapping[str, Any], *, where: str, prefix: str = "") -> CognitoVerifier:
    """``CognitoVerifier(**options)``, its argument errors named after ``where``, with
    each keyword spelled as the setting that gave it (``token_use`` becomes
    ``COGNITO_TOKEN_USE`` for ``prefix="COGNITO_"``), so the message names the key to fix.

    Raises:
        ConfigurationError: a value is invalid.
    """
    try:
        return CognitoVerifier(**options)
    except ConfigurationError as exc:
        message = exc.message
    except TypeError as exc:
        message = str(exc)
    message = _KEYWORD.sub(lambda m: prefix + m.group(1).upper(), message)
    raise ConfigurationError(f"{where}: {message}")
