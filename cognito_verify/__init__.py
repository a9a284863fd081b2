"""Verify the JSON Web Tokens an Amazon Cognito user pool issues.

from cognito_verify import CognitoVerifier
verifier = CognitoVerifier("eu-west-1_AbCdEf123", client_id="...", token_use="access")
claims = verifier.verify(token)          # or: await verifier.averify(token)
"""

from typing import TYPE_CHECKING, Any

from ._policy import KeyPolicy, KeyStats
from ._pool import UserPool
from ._tenants import PoolResolverStats
from .claims import Claims
from .errors import (
    ClaimsModelError,
    CognitoVerifyError,
    ConfigurationError,
    CrossSiteRequestError,
    CustomCheckError,
    ForbiddenError,
    InsufficientUserAuthenticationError,
    InvalidClaimError,
    InvalidClientError,
    InvalidHeaderError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidSignerError,
    InvalidTokenError,
    InvalidTokenUseError,
    JWKSError,
    MalformedTokenError,
    MissingGroupError,
    MissingScopeError,
    MissingTokenError,
    PoolResolverError,
    RevocationCheckError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenRevokedError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    UnusableKeyError,
)
from .verifier import CognitoVerifier

if TYPE_CHECKING:
    from .alb import AlbVerifier

__version__ = "0.1.0.dev0"

__all__ = [
    "CognitoVerifier",
    "AlbVerifier",
    "UserPool",
    "KeyPolicy",
    "KeyStats",
    "PoolResolverStats",
    "Claims",
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
    "__version__",
]


def __getattr__(name: str) -> Any:
    # AlbVerifier (and the PEM and ECDSA machinery behind it) is imported on first use:
    # a service that never verifies a load balancer's header does not pay for it at
    # every cold start. Importing it happens at set-up, never on a request's path.
    if name == "AlbVerifier":
        from .alb import AlbVerifier

        return AlbVerifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
