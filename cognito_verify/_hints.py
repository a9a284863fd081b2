"""Hints for the usual copy-paste mistakes with a token, named without quoting it.

Used on failure paths only (a malformed token, a refused CLI argument), so verifying a
good token never pays for them.
"""

from __future__ import annotations

import re

_QUOTES = "\"'`"
_SPACE = re.compile(r"\s")
# Hints are for pasted tokens: anything longer is refused for its size, and a flood of
# large garbage must not pay for a scan of each one.
_MAX_HINTED = 16_384


def paste_hint(token: object) -> str | None:
    """What looks copy-pasted wrong about ``token``, or ``None``: a ``Bearer `` prefix,
    surrounding quotes, surrounding whitespace or a newline, whitespace inside."""
    if isinstance(token, bytes | bytearray):
        if len(token) > _MAX_HINTED:
            return None
        token = bytes(token).decode("latin-1")
    if not isinstance(token, str) or not token or len(token) > _MAX_HINTED:
        return None
    core = token.strip()
    if core[:7].lower() == "bearer ":
        return "it starts with 'Bearer ': pass the token alone, without the scheme"
    if len(core) >= 2 and core[0] in _QUOTES and core[-1] == core[0]:
        return "it is wrapped in quotes: remove them"
    if core and (core[0] in _QUOTES or core[-1] in _QUOTES):
        return "it starts or ends with a quote: remove it"
    if core != token:
        return "it has surrounding whitespace or a newline: strip it"
    if _SPACE.search(core):
        return "it contains whitespace: it was probably wrapped or split when copied"
    return None
