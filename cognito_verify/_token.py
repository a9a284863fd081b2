"""Pure parsing and checking of a compact JWS: no IO, no clock of its own.

Every function here either returns or raises an ``InvalidTokenError`` /
``ForbiddenError`` subclass. The verifier calls them in the order of the checks:
structure, header, (key), signature, claims, authorization.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256

from .errors import (
    ConfigurationError,
    InsufficientUserAuthenticationError,
    InvalidClaimError,
    InvalidClientError,
    InvalidHeaderError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenUseError,
    MalformedTokenError,
    MissingGroupError,
    MissingScopeError,
    TokenExpiredError,
    TokenNotYetValidError,
    UnsupportedAlgorithmError,
)

# Real Cognito tokens are 1-4 KiB; a user in very many groups can approach 10 KiB.
# Anything far above is refused before any decoding work is spent on it.
DEFAULT_MAX_TOKEN_LENGTH = 32 * 1024
MAX_KID_LENGTH = 256
MAX_JSON_DEPTH = 16
# Largest int a NumericDate may be: beyond it, float conversion overflows.
_MAX_DATE = int(sys.float_info.max)

# Only the base64url alphabet, no padding, no whitespace: pyjwt's decoder silently
# drops foreign characters, which makes many strings decode to the same token.
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_PAD = ("", "", "==", "=")
# Last character of a segment whose length is 2 or 3 (mod 4) must leave the unused
# low bits zero, otherwise several encodings map to the same bytes (malleability).
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}

_PADDING = PKCS1v15()
_SHA256 = SHA256()


class ParsedToken(NamedTuple):
    """A structurally valid, not yet verified token.

    A NamedTuple rather than a frozen dataclass: just as immutable, and about 1 us
    cheaper to build, which is measurable on every verification.
    """

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes
    kid: str


class Requirements(NamedTuple):
    """Authorization rules applied after every other check (a NamedTuple: immutable,
    and it does not add a dataclass's build cost to ``import cognito_verify``).

    Each set in ``any_groups`` / ``any_scopes`` must share at least one name with
    the token; every name in ``all_groups`` / ``all_scopes`` must be present.
    ``max_auth_age``: seconds since ``auth_time`` allowed (step-up), None for no limit.
    """

    any_groups: tuple[frozenset[str], ...] = ()
    all_groups: frozenset[str] = frozenset()
    any_scopes: tuple[frozenset[str], ...] = ()
    all_scopes: frozenset[str] = frozenset()
    max_auth_age: float | None = None

    @classmethod
    def build(
        cls,
        groups: object = None,
        all_groups: object = None,
        scopes: object = None,
        all_scopes: object = None,
        max_auth_age: object = None,
    ) -> Requirements:
        g, s = names(groups, "groups"), names(scopes, "scopes")
        return cls(
            any_groups=(g,) if g else (),
            all_groups=names(all_groups, "all_groups") or frozenset(),
            any_scopes=(s,) if s else (),
            all_scopes=names(all_scopes, "all_scopes") or frozenset(),
            max_auth_age=seconds(max_auth_age, "max_auth_age"),
        )

    def __bool__(self) -> bool:
        return bool(
            self.any_groups
            or self.all_groups
            or self.any_scopes
            or self.all_scopes
            or self.max_auth_age is not None
        )

    def merged(self, other: Requirements) -> Requirements:
        """Rules where both ``self`` and ``other`` must hold."""
        if not other:
            return self
        if not self:
            return other
        return Requirements(
            any_groups=self.any_groups + other.any_groups,
            all_groups=self.all_groups | other.all_groups,
            any_scopes=self.any_scopes + other.any_scopes,
            all_scopes=self.all_scopes | other.all_scopes,
            # Both limits must hold: the stricter one wins.
            max_auth_age=(
                self.max_auth_age
                if other.max_auth_age is None
                else other.max_auth_age
                if self.max_auth_age is None
                else min(self.max_auth_age, other.max_auth_age)
            ),
        )


def seconds(value: object, what: str) -> float | None:
    """Validate an optional duration in seconds (> 0, finite); None stays None."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigurationError(f"{what} must be a number of seconds > 0, got {value!r}")
    return float(value)


def names(value: object, what: str) -> frozenset[str] | None:
    """Normalise a ``groups=``/``scopes=`` argument to a frozenset (or None)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise ConfigurationError(f"{what} must be a string or a list of strings, got {value!r}")
    items = list(value)
    if not items or not all(isinstance(v, str) and v and v.strip() == v for v in items):
        raise ConfigurationError(
            f"{what} must be a non-empty list of non-empty names, got {value!r} "
            "(pass None for no requirement)"
        )
    return frozenset(items)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    # Duplicate names are ambiguous (RFC 7515 s4: MUST reject or take the last);
    # parsers disagree on which wins, which is how claim-smuggling bugs happen.
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_reject_constant)
_SCAN: Any = _DECODER.scan_once  # type: ignore[attr-defined]  # (set in __init__)


def _depth_ok(text: str) -> bool:
    # Cheap bound on nesting: counts brackets (including any inside strings, which
    # only makes the bound stricter for odd payloads, never looser).
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return True
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _b64_regex(segment: str, what: str) -> bytes:
    rem = len(segment) % 4
    if rem == 1 or _SEGMENT.fullmatch(segment) is None:
        raise MalformedTokenError(f"the {what} segment is not valid base64url")
    if rem:
        if segment[-1] not in _CANONICAL_LAST[rem]:
            raise MalformedTokenError(f"the {what} segment is not canonical base64url")
        segment += _PAD[rem]
    # Two str.replace calls run in C; str.translate with a dict costs ~3us per segment.
    return binascii.a2b_base64(segment.replace("-", "+").replace("_", "/"))


def _b64_strict(segment: str, what: str) -> bytes:
    # Same checks, same errors, same order as _b64_regex, without the regex pass: "+", "/"
    # and "=" (valid base64 but not base64url) are refused up front, and strict mode
    # (Python 3.11+) refuses every other character outside the alphabet.
    rem = len(segment) % 4
    if rem == 1 or "+" in segment or "/" in segment or "=" in segment:
        raise MalformedTokenError(f"the {what} segment is not valid base64url")
    try:
        raw = binascii.a2b_base64(
            segment.replace("-", "+").replace("_", "/") + _PAD[rem],
            strict_mode=True,  # type: ignore[call-arg]  # (3.11+; mypy checks for 3.10)
        )
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise MalformedTokenError(f"the {what} segment is not valid base64url") from None
    if rem and segment[-1] not in _CANONICAL_LAST[rem]:
        raise MalformedTokenError(f"the {what} segment is not canonical base64url")
    return raw


# Both are kept so tests/test_differential.py can prove them equal on any Python.
_b64 = _b64_strict if sys.version_info >= (3, 11) else _b64_regex


def _json_object(segment: str, what: str) -> dict[str, Any]:
    raw = _b64(segment, what)
    try:
        text = raw.decode("utf-8")
        if not _depth_ok(text):
            raise ValueError("nested too deeply")
        # The C scanner directly: decode() adds two Python frames and a whitespace
        # regex. Anything but a clean full parse (surrounding whitespace, any error)
        # is handed to decode(), so the errors raised are exactly decode()'s.
        try:
            value, end = _SCAN(text, 0)
        except Exception:
            end = -1
        if end != len(text):
            value = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedTokenError(
            f"the {what} is not valid JSON ({exc.__class__.__name__})"
        ) from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the {what} must be a JSON object, not {type(value).__name__}")
    return value


def _header(h_seg: str) -> tuple[dict[str, Any], str]:
    """Step 2 for one header segment: decode it and check ``alg``, ``crit`` and ``kid``."""
    header = _json_object(h_seg, "header")

    alg = header.get("alg")
    # Cognito signs with RS256 only. Anything else is refused before any key is
    # touched: "none" stops unsigned tokens, HS* stops the HMAC-with-public-key
    # confusion attack, ES*/PS*/EdDSA stop algorithm substitution.
    if alg != "RS256":
        if alg is None or (isinstance(alg, str) and alg.lower() == "none"):
            raise UnsupportedAlgorithmError(
                "the token is unsigned (alg none/absent); RS256 required"
            )
        raise UnsupportedAlgorithmError(
            "the token's alg is not RS256, the only algorithm Cognito uses"
        )
    # crit names extensions the recipient must understand (RFC 7515 s4.1.11); we
    # understand none, so honouring the rule means refusing any token that has it.
    if "crit" in header:
        raise InvalidHeaderError("the header has 'crit' extensions, which are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidHeaderError("the header has no 'kid' string naming the signing key")
    if len(kid) > MAX_KID_LENGTH:
        raise InvalidHeaderError(f"the header 'kid' is longer than {MAX_KID_LENGTH} characters")
    # jku / x5u / jwk / x5c in the header are ignored on purpose: keys come only from
    # the configured pool, never from the token.
    return header, kid


_HEADERS: dict[str, tuple[dict[str, Any], str]] = {}
_MAX_HEADERS = 64


def token_text(token: object, max_length: int) -> str:
    """The token as ``str``: bytes-like input is length-checked, then ASCII-decoded.

    Raises:
        MalformedTokenError: not a string or bytes-like, empty, longer than
            ``max_length`` (characters or bytes), or bytes that are not ASCII.
    """
    if isinstance(token, bytes | bytearray | memoryview):
        # Bound before decoding, so a huge body costs no copy (memoryview: nbytes).
        size = token.nbytes if isinstance(token, memoryview) else len(token)
        if size > max_length:
            raise MalformedTokenError(
                f"the token is {size} bytes long, above the limit of {max_length}"
            )
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTokenError("the token contains non-ASCII bytes") from None
    if not isinstance(token, str):
        raise MalformedTokenError(f"the token must be a string, not {type(token).__name__}")
    if not token:
        raise MalformedTokenError("the token is empty")
    if len(token) > max_length:
        raise MalformedTokenError(
            f"the token is {len(token)} characters long, above the limit of {max_length}"
        )
    return token


def parse(token: object, max_length: int = DEFAULT_MAX_TOKEN_LENGTH) -> ParsedToken:
    """Check structure and header of a compact JWS and decode it (steps 1 and 2)."""
    token = token_text(token, max_length)
    # Three finds and three slices instead of split(): no list, and the segments are
    # cut once (measured with make bench-instructions).
    i = token.find(".")
    j = token.find(".", i + 1) if i >= 0 else -1
    if j < 0 or token.find(".", j + 1) >= 0:
        count = token.count(".") + 1
        if count == 5:
            raise MalformedTokenError(
                "the token has 5 segments: it is encrypted (JWE), like a Cognito refresh "
                "token, which cannot be verified; send the ID or access token"
            )
        raise MalformedTokenError(f"the token has {count} segment(s); a signed JWT has exactly 3")
    h_seg, p_seg, s_seg = token[:i], token[i + 1 : j], token[j + 1 :]
    # A pool signs with one or two keys, so nearly every token repeats one of a few
    # header segments: its checked result is memoised (successes only, bounded).
    known = _HEADERS.get(h_seg)
    if known is None:
        known = _header(h_seg)
        if len(_HEADERS) >= _MAX_HEADERS:
            _HEADERS.clear()
        _HEADERS[h_seg] = known
    header, kid = known

    payload = _json_object(p_seg, "payload")
    if not s_seg:
        raise InvalidSignatureError("the token has an empty signature")
    signature = _b64(s_seg, "signature")
    # Positional: a NamedTuple built from keywords costs about twice as much.
    return ParsedToken(header, payload, token[:j].encode("ascii"), signature, kid)


def verify_signature(key: RSAPublicKey, token: ParsedToken) -> None:
    """Step 4: RSASSA-PKCS1-v1_5 with SHA-256 over ``header.payload``."""
    try:
        key.verify(token.signature, token.signing_input, _PADDING, _SHA256)
    except (InvalidSignature, ValueError, TypeError):
        raise InvalidSignatureError("the token's signature does not verify") from None


def _show(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# The claims Cognito defines that this library reads or exposes (through ``Claims``),
# each with the JSON type Cognito writes (docs/claims.md; AWS Developer Guide, "Using
# the ID token" / "Using the access token"). Checked in one place, ``_fast_types``
# (with ``_type_error`` for the precise message), called by ``check_claims`` on every
# verification, whatever client_id / token_use / other options say: a check
# switched off on purpose must not switch off the type of what user code reads.
# Claims not listed (custom:*, identities, pre-token-generation claims, email_verified,
# which emulators write as the string "true") are any JSON and never read here.
CLAIM_TYPES: Mapping[str, str] = {
    "exp": "number",
    "iat": "number",
    "nbf": "number",
    "auth_time": "number",
    "iss": "string",
    "sub": "string",
    "token_use": "string",
    "aud": "string",
    "client_id": "string",
    "username": "string",
    "cognito:username": "string",
    "jti": "string",
    "origin_jti": "string",
    "event_id": "string",
    "scope": "string",
    "version": "integer",
    "cognito:groups": "array of strings",
}
# Claims every verifiable token has; the others are checked only when present.
_REQUIRED = frozenset({"exp", "iat", "iss", "sub", "token_use"})
# The error for a missing or mistyped claim: the class its own check raises, so a
# claim's error does not depend on which check noticed it first.
_ERRORS: dict[str, type[InvalidClaimError]] = {
    "iss": InvalidIssuerError,
    "token_use": InvalidTokenUseError,
    "aud": InvalidClientError,
    "client_id": InvalidClientError,
}
_ABSENT: list[str] = []  # the default of an absent claim, told apart from null
_JSON_NAMES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _json_type(value: object) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _fast_types(payload: Mapping[str, Any], get: Any) -> tuple[Any, ...]:
    # Written out claim by claim, in straight-line code: on this hot path every call
    # counts, so the loop over the table runs only when something differs (_type_error).
    # Returns (exp, iat, nbf, iss, sub, token_use), nbf being 0 when absent.
    exp, iat, nbf, auth = get("exp"), get("iat"), get("nbf", 0), get("auth_time", 0)
    iss, sub, use = get("iss"), get("sub"), get("token_use")
    try:
        # One C call checks eleven strings: join refuses anything that is not a str.
        "".join(
            (
                iss, sub, use, get("aud", ""),
                get("client_id", ""), get("username", ""), get("cognito:username", ""),
                get("jti", ""), get("origin_jti", ""), get("event_id", ""), get("scope", ""),
            )
        )  # fmt: skip
        groups = get("cognito:groups", _ABSENT)
        # join again: C-level, so the cost hardly grows with the number of groups.
        if groups is not _ABSENT and (type(groups) is not list or "".join(groups) is None):
            raise TypeError
    except TypeError:
        _type_error(payload)
    if (
        int is type(exp) is type(iat) is type(nbf) is type(auth) is type(get("version", 0))
        # An int beyond float range (JSON allows ~4300 digits) would raise OverflowError
        # in date arithmetic and turn a bad claim into an internal error.
        and -_MAX_DATE <= exp <= _MAX_DATE
        and -_MAX_DATE <= iat <= _MAX_DATE
        and -_MAX_DATE <= nbf <= _MAX_DATE
        and -_MAX_DATE <= auth <= _MAX_DATE
    ):
        return exp, iat, nbf, iss, sub, use
    _type_error(payload)  # raises, unless the difference is allowed (a finite float date)
    return exp, iat, nbf, iss, sub, use


def _type_error(payload: Mapping[str, Any]) -> None:
    """The precise per-claim check, in table order: raises for the first bad claim."""
    for name, kind in CLAIM_TYPES.items():
        error = _ERRORS.get(name, InvalidClaimError)
        if name not in payload:
            if name in _REQUIRED:
                raise error(f"the '{name}' claim is missing; it is required")
            continue
        value = payload[name]
        if kind == "number":
            _numeric(name, value)
            continue
        if kind == "string":
            ok = type(value) is str
        elif kind == "integer":
            ok = type(value) is int  # bool is an int subclass: True is not a version
        else:
            ok = type(value) is list and all(type(g) is str for g in value)
        if not ok:
            what = {
                "string": "a string",
                "integer": "an integer",
                "array of strings": "an array of strings",
            }[kind]
            found = _json_type(value)
            if type(value) is list and kind == "array of strings":
                found = "an array holding " + ", ".join(
                    sorted({_json_type(g) for g in value if type(g) is not str})
                )
            raise error(f"the '{name}' claim must be {what}, got {found}")


def _numeric(name: str, value: object) -> None:
    if value is None:
        raise InvalidClaimError(f"the '{name}' claim is null; a NumericDate is required")
    # bool is an int subclass in Python: True must not pass as the date 1.
    if type(value) is not int and type(value) is not float:
        raise InvalidClaimError(
            f"the '{name}' claim must be a number (NumericDate), got {_json_type(value)}"
        )
    if type(value) is float and not math.isfinite(value):
        raise InvalidClaimError(f"the '{name}' claim is not a finite number")
    if type(value) is int and not -_MAX_DATE <= value <= _MAX_DATE:
        raise InvalidClaimError(f"the '{name}' claim is not a finite number")


def numeric_claim(payload: Mapping[str, Any], name: str, required: bool) -> float | None:
    """The NumericDate ``payload[name]``, checked as :func:`check_claims` checks one.

    Returns None when the claim is absent and not ``required``. Raises
    InvalidClaimError when it is missing but required, null, not a JSON number
    (booleans included), not finite or out of range. Used by the load balancer's
    token, whose ``exp`` lives in the header.
    """
    value: Any = payload.get(name)
    if value is None and name not in payload:
        if required:
            raise InvalidClaimError(f"the '{name}' claim is missing; it is required")
        return None
    _numeric(name, value)
    number: float = value
    return number


def _date(value: float) -> str:
    # Every digit: a rounded figure could print an 'iat' in the future as equal to now.
    return str(value) if type(value) is int else repr(float(value))


def check_claims(
    payload: Mapping[str, Any],
    *,
    issuers: Iterable[str],
    client_ids: frozenset[str] | None,
    token_use: str | None,
    now: float,
    leeway: float,
    clock_skew: float = 0.0,
) -> None:
    """Step 5: claim types, lifetime, issuer, token use and app client.

    ``leeway`` (seconds) applies to ``exp``, ``iat`` and ``nbf``; ``clock_skew``
    (seconds) is added for ``iat`` and ``nbf`` only, which may lie that far in the
    future. Raises on the first failure.
    """
    get = payload.get
    exp, iat, nbf, iss, sub, use = _fast_types(payload, get)
    if now >= exp + leeway:
        raise TokenExpiredError(
            f"the token expired at {_date(exp)} (now {_date(now)}, leeway {leeway:g}s); "
            "the client must refresh it"
        )
    ahead = leeway + clock_skew
    if iat > now + ahead:
        raise TokenNotYetValidError(
            f"the token's 'iat' {_date(iat)} is in the future: more than {ahead:g}s after "
            f"now ({_date(now)}); check clock sync"
        )
    if nbf > now + ahead:  # (0 when absent: always in the past)
        raise TokenNotYetValidError(
            f"the token is not valid before {_date(nbf)}: more than {ahead:g}s after now "
            f"({_date(now)})"
        )

    if iss not in issuers:
        raise InvalidIssuerError(
            f"the 'iss' claim {_show(iss)} is not a configured issuer "
            f"(expected one of {_show(sorted(issuers), 200)})"
        )
    if not sub:
        raise InvalidClaimError("the 'sub' claim is empty")

    # Whatever is configured, only Cognito's two verifiable kinds are accepted.
    if use != "id" and use != "access":
        raise InvalidTokenUseError(
            f"the 'token_use' claim is {_show(use)}; expected 'id' or 'access'"
        )
    if token_use is not None and use != token_use:
        raise InvalidTokenUseError(
            f"the 'token_use' claim is {use!r}, expected {token_use!r}"
            + (
                " (an ID token was sent where an access token is required)"
                if use == "id"
                else " (an access token was sent where an ID token is required)"
            )
        )

    if client_ids is not None:
        # ID tokens carry the app client in 'aud'; access tokens have no 'aud' and
        # carry it in 'client_id'. Accepting either claim for either kind would let
        # a token minted for one app be replayed against another.
        name = "aud" if use == "id" else "client_id"
        found = get(name)
        if found not in client_ids:
            shown = (
                "is missing" if found is None else f"{_show(found)} is not a configured app client"
            )
            raise InvalidClientError(
                f"the '{name}' claim {shown} (expected {_show(sorted(client_ids), 200)})"
            )


def authorize(groups: frozenset[str], scopes: frozenset[str], req: Requirements) -> None:
    """Step 6: group and scope requirements; failures are 403, not 401."""
    for wanted in req.any_groups:
        if groups.isdisjoint(wanted):
            raise MissingGroupError(
                f"the caller is in none of the required groups {_show(sorted(wanted), 200)}"
            )
    if not groups.issuperset(req.all_groups):
        missing = sorted(req.all_groups - groups)
        raise MissingGroupError(f"the caller is not in the required group(s) {_show(missing, 200)}")
    for wanted in req.any_scopes:
        if scopes.isdisjoint(wanted):
            raise MissingScopeError(
                f"the token has none of the required scopes {_show(sorted(wanted), 200)}",
                scopes=sorted(wanted),
            )
    if not scopes.issuperset(req.all_scopes):
        missing = sorted(req.all_scopes - scopes)
        raise MissingScopeError(
            f"the token lacks the required scope(s) {_show(missing, 200)}", scopes=missing
        )


def check_auth_age(payload: Mapping[str, Any], max_age: float, now: float, leeway: float) -> None:
    """Step-up (RFC 9470): the user must have signed in at most ``max_age`` seconds ago.

    Raises ``InsufficientUserAuthenticationError`` (carrying ``max_age``) when
    ``auth_time`` is older, or absent: a client-credentials token has no user sign-in,
    so it can never prove a recent one.
    """
    limit = math.ceil(max_age)
    if "auth_time" not in payload:
        raise InsufficientUserAuthenticationError(
            "the token has no 'auth_time' claim (a machine token?), so it cannot prove a "
            f"sign-in within the last {max_age:g}s",
            max_age=limit,
        )
    auth_time = payload["auth_time"]
    try:  # (typed by the claim table on verification; hand-built Claims may differ)
        _numeric("auth_time", auth_time)
    except InvalidClaimError as exc:
        raise InsufficientUserAuthenticationError(exc.message, max_age=limit) from None
    if now - auth_time > max_age + leeway:
        raise InsufficientUserAuthenticationError(
            f"the user signed in {now - auth_time:.0f}s ago (auth_time {auth_time:.0f}); "
            f"at most {max_age:g}s is allowed here: the user must sign in again",
            max_age=limit,
        )
