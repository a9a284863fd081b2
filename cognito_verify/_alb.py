"""Pure parsing and checking of the load balancer's ``x-amzn-oidc-data`` token: no IO.

An Application Load Balancer with an ``authenticate-cognito`` (or ``authenticate-oidc``)
rule forwards the user's claims to its targets as a JWT that it signs itself. Facts
from AWS's ELB user guide ("User claims encoding and signature verification", in
"Authenticate users using an Application Load Balancer"):

* signed with ECDSA P-256 + SHA-256 (``ES256``);
* header fields ``alg``, ``kid`` (a UUID), ``signer`` (the load balancer's ARN),
  ``iss``, ``client`` (the app client id of the rule) and ``exp``;
* header, payload and signature are base64url with **padding** (``=``) at the end;
* the public key is one PEM per ``kid`` at
  ``https://public-keys.auth.elb.{region}.amazonaws.com/{kid}``; for GovCloud (US-West)
  ``https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/{kid}``
  and (US-East) the same with ``us-gov-east-1``.

The order of the checks: structure (padding allowed), header (``alg``, ``crit``,
``kid`` format, ``signer`` pinned), key, signature, then ``client``, ``iss`` and
``exp`` (``AlbVerifier`` glues them together).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP256R1,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from . import _token
from .errors import (
    ConfigurationError,
    InvalidClaimError,
    InvalidClientError,
    InvalidHeaderError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidSignerError,
    MalformedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    UnsupportedAlgorithmError,
)

#: The header that carries the load balancer's signed claims.
DATA_HEADER = "x-amzn-oidc-data"
#: The header that carries the Cognito access token, without a scheme.
ACCESS_TOKEN_HEADER = "x-amzn-oidc-accesstoken"
#: The header that carries the user's ``sub``, unsigned.
IDENTITY_HEADER = "x-amzn-oidc-identity"

# The load balancer's key ids are UUIDs. Only this shape may reach a URL: no "/", "..",
# "%2f", "?", "#", "@" or host can be smuggled into the key request by a token.
_KID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
# arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/app/{name}/{id}
_ARN = re.compile(
    r"arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-[a-z]|aws-eusc):elasticloadbalancing:"
    r"([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}):([0-9]{12}):loadbalancer/app/"
    r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?)/([0-9a-f]{16})"
)
# GovCloud keys live in S3 buckets (AWS's ELB user guide lists exactly these two).
_GOVCLOUD = {
    "us-gov-west-1": "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1",
    "us-gov-east-1": "https://s3-us-gov-east-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-east-1",
}
_PADDING = ("", "=", "==")
_ECDSA = ECDSA(SHA256())


class AlbToken(NamedTuple):
    """A structurally valid, not yet verified ``x-amzn-oidc-data`` token."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes
    kid: str
    signer: str


def arn_region(arn: object) -> tuple[str, str]:
    """``(partition, region)`` of an Application Load Balancer ARN.

    Raises:
        ConfigurationError: ``arn`` is not an ``elasticloadbalancing`` ARN of an
            application load balancer.
    """
    match = _ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise ConfigurationError(
            f"alb_arn {arn!r} is not an Application Load Balancer ARN such as "
            "'arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
            "loadbalancer/app/web/50dc6c495c0c9188'"
        )
    return match.group(1), match.group(2)


def default_keys_url(arn: str) -> str:
    """The base URL of the load balancer's public keys for ``arn``'s region.

    Raises:
        ConfigurationError: a partition whose key endpoint AWS does not document
            (China, ISO, European Sovereign Cloud): pass ``public_keys_url=``.
    """
    partition, region = arn_region(arn)
    if partition == "aws":
        return f"https://public-keys.auth.elb.{region}.amazonaws.com"
    if partition == "aws-us-gov" and region in _GOVCLOUD:
        return _GOVCLOUD[region]
    raise ConfigurationError(
        f"no documented public key endpoint for load balancers in {partition}/{region}: "
        "pass public_keys_url= (the base URL to which '/{kid}' is appended)"
    )


def key_url(base: str, kid: str) -> str:
    """``{base}/{kid}`` for a kid that already passed :func:`parse` (a UUID)."""
    return f"{base.rstrip('/')}/{kid}"


def _unpad(segment: str, what: str) -> str:
    """The segment without its padding; padding, when present, must be exactly right."""
    core = segment.rstrip("=")
    pad = len(segment) - len(core)
    # "=" only at the end, and only as many as reach a multiple of 4 (the load balancer
    # writes exactly that); unpadded segments are accepted as any base64url decoder does.
    if pad and (pad > 2 or len(segment) % 4 != 0 or _PADDING[(-len(core)) % 4] != "=" * pad):
        raise MalformedTokenError(f"the {what} segment has invalid base64 padding")
    return core


def parse(token: object, max_length: int = _token.DEFAULT_MAX_TOKEN_LENGTH) -> AlbToken:
    """Structure and header of an ``x-amzn-oidc-data`` token (no key, no claims yet).

    Raises:
        MalformedTokenError: not three base64url segments (padding allowed), not JSON.
        UnsupportedAlgorithmError: ``alg`` is not ES256.
        InvalidHeaderError: ``crit`` present, ``kid`` not a UUID, ``signer`` missing.
    """
    token = _token.token_text(token, max_length)
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedTokenError(
            f"the token has {len(parts)} segment(s); a signed JWT has exactly 3"
        )
    h_seg, p_seg, s_seg = parts
    # The same strict base64url and JSON rules as Cognito tokens, once the padding the
    # load balancer adds is taken off (padded and unpadded text decode to the same bytes).
    header = _token._json_object(_unpad(h_seg, "header"), "header")
    alg = header.get("alg")
    # The load balancer signs with ES256 only: "none" stops unsigned tokens, HS* the
    # HMAC-with-public-key confusion, RS*/ES384/PS* algorithm substitution.
    if alg != "ES256":
        if alg is None or (isinstance(alg, str) and alg.lower() == "none"):
            raise UnsupportedAlgorithmError(
                "the token is unsigned (alg none/absent); ES256 required"
            )
        raise UnsupportedAlgorithmError(
            "the token's alg is not ES256, the only algorithm the load balancer uses"
        )
    if "crit" in header:
        raise InvalidHeaderError("the header has 'crit' extensions, which are not supported")
    kid = header.get("kid")
    # The kid becomes part of a URL path: anything but the load balancer's UUID form
    # could point the key request at another path or host.
    if not isinstance(kid, str) or _KID.fullmatch(kid) is None:
        raise InvalidHeaderError(
            "the header 'kid' is not a load balancer key id (a UUID such as "
            "'12345678-1234-1234-1234-123456789012')"
        )
    signer = header.get("signer")
    if not isinstance(signer, str) or not signer:
        raise InvalidHeaderError("the header has no 'signer' (the load balancer's ARN)")
    payload = _token._json_object(_unpad(p_seg, "payload"), "payload")
    s_core = _unpad(s_seg, "signature")
    if not s_core:
        raise InvalidSignatureError("the token has an empty signature")
    signature = _token._b64(s_core, "signature")
    return AlbToken(header, payload, f"{h_seg}.{p_seg}".encode("ascii"), signature, kid, signer)


def check_signer(token: AlbToken, arns: frozenset[str]) -> None:
    """The ``signer`` must be a configured load balancer, compared exactly.

    Raises:
        InvalidSignerError: another load balancer, account or region signed it.
    """
    # Pinning the ARN is what stops a token minted by someone else's load balancer
    # (same region, same key endpoint, valid signature) from being accepted here.
    if token.signer not in arns:
        raise InvalidSignerError(
            "the header 'signer' is not a configured load balancer "
            f"(expected {_token._show(sorted(arns), 300)})"
        )


def load_pem_key(body: bytes) -> EllipticCurvePublicKey:
    """The P-256 public key of one PEM document.

    Raises:
        ValueError: not a PEM public key at all.
        TypeError: a public key, but not EC P-256 (RSA, P-384, ...).
    """
    try:
        key = load_pem_public_key(body)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({type(exc).__name__})") from None
    # Only the curve the load balancer signs with: an RSA or P-384 key at that URL is
    # not a key this verifier may use.
    if not isinstance(key, EllipticCurvePublicKey) or not isinstance(key.curve, SECP256R1):
        raise TypeError("not an EC P-256 public key")
    return key


def verify_signature(key: EllipticCurvePublicKey, token: AlbToken) -> None:
    """ES256: ECDSA P-256 with SHA-256 over ``header.payload``, signature ``r || s``.

    Raises:
        InvalidSignatureError: the signature does not verify or is not 64 bytes.
    """
    sig = token.signature
    # JWS ES256 signatures are the two 32-byte integers side by side (RFC 7518 s3.4),
    # not DER: any other length is refused before any arithmetic.
    if len(sig) != 64:
        raise InvalidSignatureError("the token's ES256 signature is not 64 bytes")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key.verify(der, token.signing_input, _ECDSA)
    except (InvalidSignature, ValueError, TypeError):
        raise InvalidSignatureError("the token's signature does not verify") from None


def check_claims(
    token: AlbToken,
    *,
    issuers: frozenset[str],
    client_ids: frozenset[str] | None,
    now: float,
    leeway: float,
) -> None:
    """``exp`` (header, and payload when present), ``client``, ``iss`` and ``sub``.

    Raises:
        TokenExpiredError / TokenNotYetValidError / InvalidClaimError,
        InvalidClientError, InvalidIssuerError.
    """
    header, payload = token.header, token.payload
    exp = _token.numeric_claim(header, "exp", True)
    assert exp is not None
    if now >= exp + leeway:
        raise TokenExpiredError(
            f"the load balancer's token expired at {exp:.0f} (now {now:.0f}, leeway {leeway:g}s)"
        )
    # The payload holds the identity provider's claims; if it carries its own times
    # they must hold too (a payload exp never extends the header's).
    p_exp = _token.numeric_claim(payload, "exp", False)
    if p_exp is not None and now >= p_exp + leeway:
        raise TokenExpiredError(
            f"the token's claims expired at {p_exp:.0f} (now {now:.0f}, leeway {leeway:g}s)"
        )
    nbf = _token.numeric_claim(payload, "nbf", False)
    if nbf is not None and nbf > now + leeway:
        raise TokenNotYetValidError(f"the token is not valid before {nbf:.0f} (now {now:.0f})")

    client = header.get("client")
    if client_ids is not None and (not isinstance(client, str) or client not in client_ids):
        raise InvalidClientError(
            f"the header 'client' {_token._show(client)} is not a configured app client "
            f"(expected {_token._show(sorted(client_ids), 200)})"
        )
    iss = header.get("iss")
    if not isinstance(iss, str) or iss not in issuers:
        raise InvalidIssuerError(
            f"the header 'iss' {_token._show(iss)} is not a configured issuer "
            f"(expected one of {_token._show(sorted(issuers), 200)})"
        )
    p_iss = payload.get("iss")
    if p_iss is not None and p_iss != iss:
        raise InvalidIssuerError("the payload 'iss' differs from the header 'iss'")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidClaimError("the 'sub' claim is missing or not a string")


def names(value: object, what: str) -> frozenset[str]:
    """A non-empty set of non-empty strings from a string or a list of them."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ConfigurationError(f"{what} must be a string or a list of strings, got {value!r}")
    items = list(value)
    if not items or not all(isinstance(v, str) and v and v.strip() == v for v in items):
        raise ConfigurationError(f"{what} must be a non-empty list of non-empty strings")
    return frozenset(items)


def group_by_region(arns: frozenset[str]) -> Mapping[str, list[str]]:
    """ARNs grouped by the region whose key endpoint serves them."""
    out: dict[str, list[str]] = {}
    for arn in sorted(arns):
        out.setdefault(arn_region(arn)[1], []).append(arn)
    return out
