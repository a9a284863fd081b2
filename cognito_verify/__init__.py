"""Verify the JSON Web Tokens an Amazon Cognito user pool issues.

from cognito_verify import CognitoVerifier
verifier = CognitoVerifier("eu-west-1_AbCdEf123", client_id="...", token_use="access")
claims = verifier.verify(token)          # or: await verifier.averify(token)
"""

from ._keys import KeyStats
from ._pool import UserPool
from .claims import Claims
from .errors import (
    ClaimsModelError,
    CognitoVerifyError,
    ConfigurationError,
    CustomCheckError,
    ForbiddenError,
    InsufficientUserAuthenticationError,
    InvalidClaimError,
    InvalidClientError,
    InvalidHeaderError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    InvalidTokenUseError,
    JWKSError,
    MalformedTokenError,
    MissingGroupError,
    MissingScopeError,
    MissingTokenError,
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
    "UserPool",
    "KeyStats",
    "Claims",
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
    "TokenRevokedError",
    "InsufficientUserAuthenticationError",
    "JWKSError",
    "RevocationCheckError",
    "ClaimsModelError",
    "__version__",
]
