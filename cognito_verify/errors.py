"""Every error this library raises.

The tree::

    CognitoVerifyError                     base of everything below; .code, .status_code, .claims
    ├── ConfigurationError                 bad arguments (also a ValueError): at construction, or
    │                                      an async hook used with verify() instead of averify()
    ├── InvalidTokenError          401     the token is not acceptable
    │   ├── MissingTokenError              no bearer token in the request (web adapters)
    │   ├── MalformedTokenError            not a compact JWS, bad base64url/JSON, too large
    │   ├── UnsupportedAlgorithmError      header alg is not RS256 (none, HS256, ES256, ...)
    │   ├── InvalidHeaderError             kid missing/not a string, crit present, ...
    │   ├── InvalidSignerError             x-amzn-oidc-data signed by a load balancer not configured
    │   ├── UnknownKeyError                kid not in the pool's key set
    │   ├── UnusableKeyError               the pool's JWK for that kid is not an RS256 signing key
    │   ├── InvalidSignatureError          signature does not verify
    │   ├── InvalidClaimError              a required claim is missing or has the wrong type
    │   │   ├── TokenExpiredError          exp is in the past
    │   │   ├── TokenNotYetValidError      nbf or iat is in the future
    │   │   ├── InvalidIssuerError         iss is not a configured issuer
    │   │   ├── InvalidClientError         aud / client_id is not a configured app client
    │   │   └── InvalidTokenUseError       token_use is not the configured one (id vs access)
    │   ├── TokenRevokedError              the is_revoked hook answered True
    │   └── InsufficientUserAuthenticationError   sign-in older than max_auth_age (RFC 9470)
    ├── ForbiddenError             403     the token is valid, the caller lacks a permission
    │   ├── MissingGroupError              not in a required cognito:groups group
    │   ├── MissingScopeError              no required OAuth scope
    │   ├── CrossSiteRequestError          a cookie token on an unsafe method, no proof of origin
    │   └── CustomCheckError               a user-supplied check refused the claims
    ├── JWKSError                  503     keys could not be fetched and none are cached
    │   └── PoolResolverError              the pool_resolver failed (raised, timed out, bad answer)
    ├── RevocationCheckError       503     the is_revoked hook failed: refused, fail closed
    └── ClaimsModelError           500     verified claims do not fit the application's model

``ForbiddenError`` is deliberately not an ``InvalidTokenError``: a caller that is known
but not allowed must get 403, not 401. Each class has a stable ``code`` string meant
for machines (API bodies, metrics); the message is for people and never contains the
token, its signature, or (before the signature is verified) any value taken from it.

``claims`` is the verified ``Claims`` when the error was raised after the signature
verified (expired, wrong client, missing group, revoked, step-up, custom check), so the
refused caller can be logged; it is ``None`` for errors raised before the signature
(nothing in the token can be trusted then). It is never part of ``str(exc)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .claims import Claims

__all__ = [
    "CognitoVerifyError",
    "ConfigurationError",
    "InvalidTokenError",
    "MissingTokenError",
    "MalformedTokenError",
    "UnsupportedAlgorithmError",
    "InvalidHeaderError",
    "InvalidSignerError",
    "UnknownKeyError",
    "UnusableKeyError",
    "InvalidSignatureError",
    "InvalidClaimError",
    "TokenExpiredError",
    "TokenNotYetValidError",
    "InvalidIssuerError",
    "InvalidClientError",
    "InvalidTokenUseError",
    "ForbiddenError",
    "MissingGroupError",
    "MissingScopeError",
    "CustomCheckError",
    "CrossSiteRequestError",
    "TokenRevokedError",
    "InsufficientUserAuthenticationError",
    "JWKSError",
    "PoolResolverError",
    "RevocationCheckError",
    "ClaimsModelError",
]


class CognitoVerifyError(Exception):
    """Base class of every error raised by cognito_verify."""

    code: str = "error"
    status_code: int = 500
    #: The verified claims when raised after the signature verified, else None.
    claims: Claims | None = None

    def __init__(
        self, message: str, *, code: str | None = None, claims: Claims | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if claims is not None:
            self.claims = claims

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ConfigurationError(CognitoVerifyError, ValueError):
    """The verifier was configured wrongly; the message says how to fix it."""

    code = "configuration_error"
    status_code = 500


class InvalidTokenError(CognitoVerifyError):
    """The token is not acceptable: answer 401 with ``error="invalid_token"``."""

    code = "invalid_token"
    status_code = 401


class MissingTokenError(InvalidTokenError):
    """The request carried no bearer token (raised by the web adapters only)."""

    code = "missing_token"


class MalformedTokenError(InvalidTokenError):
    code = "malformed_token"


class UnsupportedAlgorithmError(InvalidTokenError):
    code = "unsupported_algorithm"


class InvalidHeaderError(InvalidTokenError):
    code = "invalid_header"


class InvalidSignerError(InvalidTokenError):
    """An ``x-amzn-oidc-data`` token whose ``signer`` is not a configured load balancer
    ARN (another load balancer, account or region): see ``AlbVerifier``."""

    code = "invalid_signer"


class UnknownKeyError(InvalidTokenError):
    code = "unknown_key"


class UnusableKeyError(InvalidTokenError):
    code = "unusable_key"


class InvalidSignatureError(InvalidTokenError):
    code = "invalid_signature"


class InvalidClaimError(InvalidTokenError):
    code = "invalid_claim"


class TokenExpiredError(InvalidClaimError):
    code = "token_expired"


class TokenNotYetValidError(InvalidClaimError):
    code = "token_not_yet_valid"


class InvalidIssuerError(InvalidClaimError):
    code = "invalid_issuer"


class InvalidClientError(InvalidClaimError):
    code = "invalid_client"


class InvalidTokenUseError(InvalidClaimError):
    code = "invalid_token_use"


class ForbiddenError(CognitoVerifyError):
    """The token is valid but the caller lacks a permission: answer 403."""

    code = "forbidden"
    status_code = 403


class MissingGroupError(ForbiddenError):
    code = "missing_group"


class MissingScopeError(ForbiddenError):
    code = "insufficient_scope"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        claims: Claims | None = None,
        scopes: Sequence[str] = (),
    ) -> None:
        super().__init__(message, code=code, claims=claims)
        #: The scopes that would have satisfied the requirement (for the RFC 6750
        #: ``scope="..."`` challenge); empty when unknown.
        self.scopes: tuple[str, ...] = tuple(scopes)


class CustomCheckError(ForbiddenError):
    code = "custom_check_failed"


class CrossSiteRequestError(ForbiddenError):
    """A token taken from a cookie on a state-changing request (or a WebSocket
    handshake) that shows no sign of coming from the app's own pages: refused as
    cross-site request forgery (see ``TokenSource.cookie``)."""

    code = "cross_site_request"


class TokenRevokedError(InvalidTokenError):
    """The verifier's ``is_revoked`` hook answered that the token was revoked."""

    code = "token_revoked"


class InsufficientUserAuthenticationError(InvalidTokenError):
    """The user signed in longer ago than allowed (``max_auth_age``), or the token has
    no ``auth_time`` (machine tokens): answer 401 with the RFC 9470 challenge
    ``error="insufficient_user_authentication"`` and ``max_age``.

    ``max_age`` is the maximum age in whole seconds that was applied (None when unknown).
    """

    code = "insufficient_user_authentication"

    def __init__(
        self,
        message: str,
        *,
        max_age: int | None = None,
        code: str | None = None,
        claims: Claims | None = None,
    ) -> None:
        super().__init__(message, code=code, claims=claims)
        self.max_age = max_age


class JWKSError(CognitoVerifyError):
    """The pool's keys could not be fetched and none are cached: answer 503."""

    code = "jwks_unavailable"
    status_code = 503


class RevocationCheckError(CognitoVerifyError):
    """The ``is_revoked`` hook raised or answered something other than a bool: the
    token is refused (fail closed) with 503, as its revocation state is unknown."""

    code = "revocation_check_failed"
    status_code = 503


class ClaimsModelError(CognitoVerifyError):
    """A verified token's claims do not fit the application's model
    (``Claims.to_model``): 500, as the model, not the caller, is most likely wrong."""

    code = "claims_model_mismatch"
    status_code = 500


class PoolResolverError(JWKSError):
    """The ``pool_resolver`` raised, timed out or answered something other than a
    ``UserPool`` or None: the token is refused (fail closed) with 503, as for keys
    that cannot be fetched. Its failure says nothing about the token, so a 401 would
    tell a genuine client to discard a good token and would hide an outage among
    ordinary refusals."""

    code = "pool_resolver_failed"
