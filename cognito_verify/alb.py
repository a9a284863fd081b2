"""AlbVerifier: the ``x-amzn-oidc-data`` token an Application Load Balancer signs.

    from cognito_verify import AlbVerifier

    alb = AlbVerifier(
        alb_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
        client_id="...",   # the app client of the authenticate-cognito rule
        issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
    )
    claims = alb.verify(request.headers["x-amzn-oidc-data"])   # or: await alb.averify(...)

The checks and their order live in ``_alb`` (pure) and the keys in ``_alb_keys``; this
module glues configuration, keys and checks, as ``verifier.py`` does for Cognito.
See docs/alb.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import _alb, _fetch
from ._alb_keys import AlbKeys
from ._policy import KeyPolicy, KeyStats
from ._pool import MISSING, check_url
from ._token import DEFAULT_MAX_TOKEN_LENGTH
from .claims import Claims
from .errors import CognitoVerifyError, ConfigurationError, InvalidTokenError

if TYPE_CHECKING:  # httpx is imported only by whoever passes its clients
    import httpx

__all__ = ["AlbVerifier"]


class AlbVerifier:
    """Verifies the ``x-amzn-oidc-data`` header a load balancer sends its targets.

    Args:
        alb_arn: the load balancer's ARN, or a list of them; the token's ``signer``
            must be one of them exactly (another load balancer, account or region
            is refused with ``InvalidSignerError``). Load balancers in several
            regions may be listed: each region's key endpoint serves its own.
        client_id: the app client id of the ``authenticate-cognito`` rule (a list for
            several), or ``None`` on purpose to accept any. Required.
        issuer: the exact ``iss`` the load balancer writes (the user pool's issuer,
            ``https://cognito-idp.{region}.amazonaws.com/{user_pool_id}``), or a list.
        public_keys_url: the base URL to which ``/{kid}`` is appended. By default
            derived from each ARN's region: ``https://public-keys.auth.elb.{region}
            .amazonaws.com``, and the two GovCloud (US) S3 endpoints AWS documents.
            Other partitions (China, ISO, sovereign clouds) need it set.
        leeway: seconds of clock skew tolerated on ``exp`` (at most 300).
        clock: the current Unix time, for ``exp`` (``time.time``).
        key_policy: max age, unknown-kid cooldown, timeouts and size caps of key
            fetches: the same ``KeyPolicy`` a JWKS uses.
        monotonic: the key policy's clock (``time.monotonic``): key age, cooldown,
            back-off; never the wall clock.
        http_client / async_http_client: ``httpx`` clients for key fetches.
        allow_insecure_keys_url: allow a plain-http ``public_keys_url`` on a
            non-loopback host.
        max_token_length: longer inputs are refused before any decoding.
        trusted_origins / csrf_header / csrf_protection: the cross-site request rule
            the adapters apply to requests this load balancer authenticated (see
            below); the same settings as ``TokenSource.cookie``.

    Behind an ``authenticate-cognito`` rule the load balancer adds its headers to every
    request that carries its session cookie (``AWSELBAuthSessionCookie-*``), requests
    other sites start included: for the app they are a cookie. So an adapter given
    ``alb=`` refuses an unsafe method (anything but GET, HEAD, OPTIONS, TRACE) or a
    WebSocket handshake that shows no proof of coming from the app's own pages
    (``Sec-Fetch-Site: same-origin``, an ``Origin`` in ``trusted_origins``, or the
    ``csrf_header``) with ``CrossSiteRequestError`` (403), before any verification.
    ``csrf_protection=False`` turns this off for apps with CSRF tokens of their own.

    Raises:
        TypeError: ``client_id`` was not given.
        ConfigurationError: an argument is invalid; the message says how to fix it.
    """

    def __init__(
        self,
        alb_arn: str | Sequence[str],
        *,
        client_id: str | Sequence[str] | None = MISSING,
        issuer: str | Sequence[str],
        public_keys_url: str | None = None,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
        key_policy: KeyPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        allow_insecure_keys_url: bool = False,
        max_token_length: int = DEFAULT_MAX_TOKEN_LENGTH,
        trusted_origins: Sequence[str] = (),
        csrf_header: str | None = "X-Requested-With",
        csrf_protection: bool = True,
    ) -> None:
        if client_id is MISSING:
            raise TypeError(
                "client_id is required: pass the app client id of the load balancer's "
                "authenticate rule, or client_id=None to accept any app client"
            )
        self.alb_arns = _alb.names(alb_arn, "alb_arn")
        regions = _alb.group_by_region(self.alb_arns)  # validates every ARN
        self.client_ids = None if client_id is None else _alb.names(client_id, "client_id")
        self.issuers = _alb.names(issuer, "issuer")
        for iss in self.issuers:
            check_url(iss, "issuer", True)
        if (
            isinstance(leeway, bool)
            or not isinstance(leeway, int | float)
            or not (math.isfinite(leeway) and 0 <= leeway <= 300)
        ):
            raise ConfigurationError(f"leeway must be seconds between 0 and 300, got {leeway!r}")
        if not callable(clock) or not callable(monotonic):
            raise ConfigurationError("clock and monotonic must be callables returning seconds")
        if key_policy is not None and not isinstance(key_policy, KeyPolicy):
            raise ConfigurationError("key_policy must be a KeyPolicy")
        _fetch.check_clients(http_client, async_http_client)
        if not isinstance(max_token_length, int) or max_token_length < 256:
            raise ConfigurationError("max_token_length must be an int of at least 256")
        if isinstance(trusted_origins, str) or not all(
            isinstance(origin, str) for origin in trusted_origins
        ):
            raise ConfigurationError("trusted_origins must be a list of origins")
        if csrf_header is not None and not isinstance(csrf_header, str):
            raise ConfigurationError("csrf_header must be a header name or None")
        if not isinstance(csrf_protection, bool):
            raise ConfigurationError("csrf_protection must be True or False")
        #: The cross-site request rule the adapters apply (checked in full by them).
        self.trusted_origins = tuple(trusted_origins)
        self.csrf_header = csrf_header
        self.csrf_protection = csrf_protection
        self._leeway = float(leeway)
        self._clock = clock
        self._max_length = max_token_length
        policy = key_policy or KeyPolicy()

        # signer (a configured ARN) -> the key source of its region. The token's signer
        # only chooses among these; the key URL never comes from the token.
        self._by_signer: dict[str, AlbKeys] = {}
        self._sources: list[AlbKeys] = []
        shared: AlbKeys | None = None
        if public_keys_url is not None:
            url = check_url(
                public_keys_url,
                "public_keys_url",
                allow_insecure_keys_url,
                "allow_insecure_keys_url",
            )
            shared = AlbKeys(
                url,
                policy=policy,
                monotonic=monotonic,
                http_client=http_client,
                async_http_client=async_http_client,
            )
            self._sources.append(shared)
        for arns in regions.values():
            source = shared
            if source is None:
                source = AlbKeys(
                    _alb.default_keys_url(arns[0]),
                    policy=policy,
                    monotonic=monotonic,
                    http_client=http_client,
                    async_http_client=async_http_client,
                )
                self._sources.append(source)
            for arn in arns:
                self._by_signer[arn] = source

    def __repr__(self) -> str:
        return f"<AlbVerifier alb_arns={sorted(self.alb_arns)}>"

    def _begin(self, token: object) -> tuple[_alb.AlbToken, AlbKeys]:
        parsed = _alb.parse(token, self._max_length)
        _alb.check_signer(parsed, self.alb_arns)
        return parsed, self._by_signer[parsed.signer]

    def _finish(self, parsed: _alb.AlbToken, key: Any) -> Claims:
        _alb.verify_signature(key, parsed)
        _alb.check_claims(
            parsed,
            issuers=self.issuers,
            client_ids=self.client_ids,
            now=self._clock(),
            leeway=self._leeway,
        )
        return Claims._owned(parsed.payload)

    def verify(self, token: str | bytes) -> Claims:
        """Verify an ``x-amzn-oidc-data`` value and return the user's claims (the
        payload: ``sub``, ``email``, ``username``, ... as the identity provider's
        user info endpoint gave them).

        Raises:
            InvalidTokenError: (a subclass of) the token is not acceptable -> 401;
                ``InvalidSignerError`` (code ``invalid_signer``) for another load balancer.
            JWKSError: the load balancer's key cannot be fetched and is not cached -> 503.
        """
        try:
            parsed, source = self._begin(token)
            return self._finish(parsed, source.get(parsed.kid))
        except CognitoVerifyError:
            raise
        except Exception as exc:  # fail closed: an unforeseen error is a refusal
            raise InvalidTokenError(
                f"the token could not be verified ({type(exc).__name__})"
            ) from exc

    async def averify(self, token: str | bytes) -> Claims:
        """Async twin of :meth:`verify`; fetches keys with ``httpx.AsyncClient``."""
        try:
            parsed, source = self._begin(token)
            return self._finish(parsed, await source.aget(parsed.kid))
        except CognitoVerifyError:
            raise
        except Exception as exc:
            raise InvalidTokenError(
                f"the token could not be verified ({type(exc).__name__})"
            ) from exc

    @property
    def stats(self) -> KeyStats:
        """Key fetch counters summed over this verifier's key endpoints (a snapshot)."""
        total = KeyStats()
        for source in self._sources:
            total += source.stats
        return total

    def close(self) -> None:
        """Close the HTTP clients this verifier created (not ones you passed in)."""
        for source in self._sources:
            source.close()

    def __enter__(self) -> AlbVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
