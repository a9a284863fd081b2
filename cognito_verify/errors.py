"""Every error this library raises.

The tree::

    CognitoVerifyError                     base of everything below; has .code and .status_code
    ├── ConfigurationError                 bad arguments, raised at construction (also a ValueError)
    ├── InvalidTokenError          401     the token is not acceptable
    │   ├── MissingTokenError              no bearer token in the request (web adapters)
    │   ├── MalformedTokenError            not a compact JWS, bad base64url/JSON, too large
    │   ├── UnsupportedAlgorithmError      header alg is not RS256 (none, HS256, ES256, ...)
    │   ├── InvalidHeaderError             kid missing/not a string, crit present, ...
    │   ├── UnknownKeyError                kid not in the pool's key set
    │   ├── UnusableKeyError               the pool's JWK for that kid is not an RS256 signing key
    │   ├── InvalidSignatureError          signature does not verify
    │   ├── InvalidClaimError              a required claim is missing or has the wrong type
    │   │   ├── TokenExpiredError          exp is in the past
    │   │   ├── TokenNotYetValidError      nbf or iat is in the future
    │   │   ├── InvalidIssuerError         iss is not a configured issuer
    │   │   ├── InvalidClientError         aud / client_id is not a configured app client
    │   │   └── InvalidTokenUseError       token_use is not the configured one (id vs access)
    ├── ForbiddenError             403     the token is valid, the caller lacks a permission
    │   ├── MissingGroupError              not in a required cognito:groups group
    │   ├── MissingScopeError              no required OAuth scope
    │   └── CustomCheckError               a user-supplied check refused the claims
    └── JWKSError                  503     keys could not be fetched and none are cached
        └── PoolResolverError              the pool_resolver failed (raised, timed out, bad answer)

``ForbiddenError`` is deliberately not an ``InvalidTokenError``: a caller that is known
but not allowed must get 403, not 401. Each class has a stable ``code`` string meant
for machines (API bodies, metrics); the message is for people and never contains the
token, its signature, or (before the signature is verified) any value taken from it.
"""

from __future__ import annotations

__all__ = [
    "CognitoVerifyError",
    "ConfigurationError",
    "InvalidTokenError",
    "MissingTokenError",
    "MalformedTokenError",
    "UnsupportedAlgorithmError",
    "InvalidHeaderError",
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
    "JWKSError",
    "PoolResolverError",
]


class CognitoVerifyError(Exception):
    """Base class of every error raised by cognito_verify."""

    code: str = "error"
    status_code: int = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

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


class CustomCheckError(ForbiddenError):
    code = "custom_check_failed"


class JWKSError(CognitoVerifyError):
    """The pool's keys could not be fetched and none are cached: answer 503."""

    code = "jwks_unavailable"
    status_code = 503


class PoolResolverError(JWKSError):
    """The ``pool_resolver`` raised, timed out or answered something other than a
    ``UserPool`` or None: the token is refused (fail closed) with 503, as for keys
    that cannot be fetched. Its failure says nothing about the token, so a 401 would
    tell a genuine client to discard a good token and would hide an outage among
    ordinary refusals."""

    code = "pool_resolver_failed"
