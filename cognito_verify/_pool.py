"""User pool configuration: pool id -> issuers and JWKS URLs, validated up front."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError

TokenUse = Literal["id", "access"]
IssuerFormat = Literal["original", "updated", "any"]

# Pool ids are "{region}_{id}"; the region must look like an AWS region because the
# issuer and the JWKS URL are built from it. Region names start with two letters
# ("eu-west-1", "us-gov-west-1", "cn-north-1") or, in the European Sovereign Cloud,
# four ("eusc-de-east-1").
_AWS_POOL_ID = re.compile(r"((?:[a-z]{2}|eusc)(?:-[a-z]+)+-[0-9]{1,2})_([0-9A-Za-z]+)")
# Emulators use other prefixes ("local_abc"); accepted only with an explicit issuer.
_ANY_POOL_ID = re.compile(r"([0-9A-Za-z-]{1,64})_([0-9A-Za-z]{1,64})")
_REGION = re.compile(r"(?:[a-z]{2}|eusc)(?:-[a-z]+)+-[0-9]{1,2}")

# The DNS domain of Cognito's issuer and JWKS hosts, by partition (region prefix).
# Only domains confirmed from AWS documentation are here; a region of any other
# partition is refused with a pointer to issuer=/jwks_url= rather than a guess, as a
# wrong domain would send key requests to a host nobody vouches for.
#  * aws (commercial) and aws-us-gov (GovCloud): amazonaws.com. GovCloud's user pools
#    API endpoints are cognito-idp-fips.us-gov-{west,east}-1.amazonaws.com ("Amazon
#    Cognito in AWS GovCloud (US)",
#    https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/govcloud-cog.html); the
#    FIPS host is for API calls, tokens name the issuer in the usual
#    cognito-idp.{region} form, as AWS's own verifier (aws-jwt-verify) expects too.
#  * aws-cn (cn-north-1 Beijing, cn-northwest-1 Ningxia): amazonaws.com.cn
#    ("Amazon Cognito" in the China user guide: tokens issued by
#    https://cognito-identity.cn-north-1.amazonaws.com.cn/,
#    https://docs.amazonaws.cn/en_us/aws/latest/userguide/cognito.html).
#  * aws-eusc (European Sovereign Cloud, eusc-de-east-1): its service endpoints use
#    amazonaws.eu, but no AWS document found states the host of a user pool's token
#    issuer there (the managed login domain is *.auth.cognito-idp.eusc-de-east-1.
#    on.amazonwebservices.eu), so it is not guessed: pass issuer= (and jwks_url= if
#    the keys are not at {issuer}/.well-known/jwks.json).
#  * ISO partitions (us-iso-*, us-isob-*, eu-isoe-*, us-isof-*): not documented
#    publicly for Cognito; same rule.
_PARTITION_DOMAINS: tuple[tuple[str, str], ...] = (
    ("cn-", "amazonaws.com.cn"),
    ("us-gov-", "amazonaws.com"),
)
_UNCONFIRMED = ("eusc-", "us-iso", "eu-iso")
_COGNITO_ISSUER = re.compile(
    r"https://(?:issuer-)?cognito-idp\.([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})\."
    r"(amazonaws\.com|amazonaws\.com\.cn)/([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}_[0-9A-Za-z]+)"
)


def partition_domain(region: str) -> str | None:
    """The Cognito issuer domain for ``region``, or None where it is not confirmed."""
    if region.startswith(_UNCONFIRMED):
        return None
    for prefix, domain in _PARTITION_DOMAINS:
        if region.startswith(prefix):
            return domain
    return "amazonaws.com"


def parse_issuer(iss: str) -> tuple[str, str] | None:
    """``(region, user_pool_id)`` when ``iss`` has exactly a Cognito issuer's form
    (original or updated host, the region's own partition domain, no trailing
    slash, no port, no path beyond the pool id), else None. For choosing a pool
    among trusted ones: never fetch from a URL taken from a token as is."""
    match = _COGNITO_ISSUER.fullmatch(iss)
    if match is None:
        return None
    region, domain, pool_id = match.groups()
    if partition_domain(region) != domain:
        return None
    # The pool's home region and the issuing region share a partition (a replica).
    if partition_domain(pool_id.split("_", 1)[0]) != domain:
        return None
    return region, pool_id


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


MISSING: Any = _Missing()


@dataclass(frozen=True, kw_only=True)
class UserPool:
    """One user pool accepted by a verifier (see ``CognitoVerifier.for_pools``).

    ``client_id`` and ``token_use`` are required: pass ``None`` explicitly to accept
    any app client or both token kinds.
    """

    user_pool_id: str
    client_id: str | Sequence[str] | None = MISSING
    token_use: TokenUse | None = MISSING
    jwks: Mapping[str, Any] | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    replica_regions: Sequence[str] = ()
    issuer_format: IssuerFormat = "any"
    allow_insecure_jwks_url: bool = field(default=False, repr=False)


@dataclass(frozen=True)
class PoolConfig:
    """A validated pool: what the verifier actually checks against."""

    user_pool_id: str
    region: str
    issuers: tuple[str, ...]
    jwks_urls: Mapping[str, str]  # issuer -> JWKS URL (empty when keys are static)
    static_jwks: Mapping[str, Any] | None
    client_ids: frozenset[str] | None
    token_use: TokenUse | None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(
    url: object, what: str, allow_insecure: bool, opt_in: str = "allow_insecure_jwks_url"
) -> str:
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{what} must be a non-empty URL string, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an absolute http(s) URL, got {url!r}")
    # Plain http lets anyone on the path substitute keys; it is allowed for loopback
    # (emulators, tests) or when the user opts in.
    if parts.scheme == "http" and not (allow_insecure or _is_loopback(parts.hostname)):
        raise ConfigurationError(
            f"{what} {url!r} is plain http on a non-loopback host: use https, "
            f"or pass {opt_in}=True if this is really intended"
        )
    return url


def _client_ids(value: object) -> frozenset[str] | None:
    if value is MISSING:
        raise TypeError(
            "client_id is required: pass the app client id (or a list of them), "
            "or client_id=None to accept tokens of any app client in the pool"
        )
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence | set | frozenset) or isinstance(value, bytes):
        raise ConfigurationError(f"client_id must be a string or a list of strings, got {value!r}")
    ids = list(value)
    if not ids or not all(isinstance(c, str) and c.strip() == c and c for c in ids):
        raise ConfigurationError(
            f"client_id must be an app client id or a non-empty list of them, got {value!r}"
        )
    # A Cognito app client id is word characters only (API reference, UserPoolClientType
    # ClientId: [\w+]+): "a,b" from an environment variable would silently refuse every
    # token, so say how to give several.
    for c in ids:
        if "," in c or any(ch.isspace() for ch in c):
            several = c.replace(",", " ").split()
            hint = f": pass a list for several, client_id={several!r}" if several else ""
            raise ConfigurationError(
                f"client_id {c!r} is not one app client id (an id holds no comma or space)" + hint
            )
    return frozenset(ids)


def _token_use(value: object) -> TokenUse | None:
    if value is MISSING:
        raise TypeError(
            'token_use is required: pass "id" or "access", '
            "or token_use=None to accept both kinds of token"
        )
    if value is None or value == "id" or value == "access":
        return value
    raise ConfigurationError(f'token_use must be "id", "access" or None, got {value!r}')


def resolve(pool: UserPool) -> PoolConfig:
    """Validate one pool's settings and compute its issuers and JWKS URLs."""
    pid = pool.user_pool_id
    if not isinstance(pid, str):
        raise ConfigurationError(f"user_pool_id must be a string, got {pid!r}")
    client_ids = _client_ids(pool.client_id)
    token_use = _token_use(pool.token_use)
    if pool.jwks is not None and pool.jwks_url is not None:
        raise ConfigurationError("pass either jwks= (offline keys) or jwks_url=, not both")
    if pool.jwks is not None and not isinstance(pool.jwks, Mapping):
        raise ConfigurationError('jwks must be a JWKS object: {"keys": [...]}')
    if pool.issuer_format not in ("original", "updated", "any"):
        raise ConfigurationError(
            f'issuer_format must be "original", "updated" or "any", got {pool.issuer_format!r}'
        )
    if isinstance(pool.replica_regions, str):
        raise ConfigurationError("replica_regions must be a list of region names, not a string")

    match = _AWS_POOL_ID.fullmatch(pid)
    if match is None and (pool.issuer is None or _ANY_POOL_ID.fullmatch(pid) is None):
        raise ConfigurationError(
            f"user_pool_id {pid!r} is not a Cognito user pool id: expected "
            "'<region>_<id>' such as 'eu-west-1_AbCdEf123' (emulator ids need issuer=)"
        )
    region = pid.split("_", 1)[0]
    domain = partition_domain(region) if match is not None else None
    if pool.issuer is None and domain is None:
        raise ConfigurationError(
            f"user_pool_id {pid!r} is in a partition whose Cognito issuer domain is not "
            "confirmed by AWS documentation; pass the exact issuer= (the 'iss' of one "
            "of its tokens) and, if its keys are not at {issuer}/.well-known/jwks.json, "
            "jwks_url="
        )

    if pool.issuer is not None:
        # Kept exactly as given: iss is compared byte for byte, and an issuer that ends
        # in "/" must still match tokens carrying that very string.
        issuers: tuple[str, ...] = (check_url(pool.issuer, "issuer", True),)
        if pool.replica_regions:
            raise ConfigurationError("replica_regions cannot be combined with an explicit issuer")
    else:
        regions = [region]
        for r in pool.replica_regions:
            if not isinstance(r, str) or _REGION.fullmatch(r) is None:
                raise ConfigurationError(f"replica region {r!r} is not an AWS region name")
            # Replication stays inside a partition: a replica elsewhere is a typo.
            if partition_domain(r) != domain:
                raise ConfigurationError(
                    f"replica region {r!r} is not in the same AWS partition as {region!r}"
                )
            if r not in regions:
                regions.append(r)
        hosts = []
        if pool.issuer_format in ("original", "any"):
            hosts.append("cognito-idp")
        if pool.issuer_format in ("updated", "any"):
            hosts.append("issuer-cognito-idp")
        issuers = tuple(f"https://{h}.{r}.{domain}/{pid}" for r in regions for h in hosts)

    if pool.jwks is not None:
        urls: dict[str, str] = {}
    elif pool.jwks_url is not None:
        url = check_url(pool.jwks_url, "jwks_url", pool.allow_insecure_jwks_url)
        urls = {iss: url for iss in issuers}
    else:
        urls = {iss: f"{iss.rstrip('/')}/.well-known/jwks.json" for iss in issuers}
        for url in urls.values():
            check_url(url, "JWKS URL", pool.allow_insecure_jwks_url)

    return PoolConfig(
        user_pool_id=pid,
        region=region,
        issuers=issuers,
        jwks_urls=urls,
        static_jwks=pool.jwks,
        client_ids=client_ids,
        token_use=token_use,
    )
