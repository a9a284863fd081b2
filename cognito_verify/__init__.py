"""Verify the JSON Web Tokens an Amazon Cognito user pool issues.

from cognito_verify import CognitoVerifier
verifier = CognitoVerifier("eu-west-1_AbCdEf123", client_id="...", token_use="access")
claims = verifier.verify(token)          # or: await verifier.averify(token)
"""

from ._policy import KeyPolicy, KeyStats
from ._pool import UserPool
from ._tenants import PoolResolverStats
from .alb import AlbVerifier
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
