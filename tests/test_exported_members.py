"""The public surface is exactly the documented one, and importing it is light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import cognito_verify

DOCUMENTED = [
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


def test_all_is_exactly_the_documented_list() -> None:
    assert cognito_verify.__all__ == DOCUMENTED


def test_every_exported_name_exists() -> None:
    for name in cognito_verify.__all__:
        member = getattr(cognito_verify, name)
        if name != "__version__":
            assert member.__module__.startswith("cognito_verify.")
            assert member.__name__ == name


def test_testing_kit_surface() -> None:
    from cognito_verify import testing

    assert testing.__all__ == [
        "LocalUserPool",
        "JWKSServer",
        "LocalAlb",
        "AlbKeyServer",
        "b64url",
        "encode_token",
    ]


FRAMEWORKS = [
    "flask",
    "fastapi",
    "starlette",
    "django",
    "rest_framework",
    "werkzeug",
    "uvicorn",
    "mcp",
    "mcp_types",
    "fastmcp",
    "litestar",
    "ninja",
]


def test_import_pulls_in_no_web_framework() -> None:
    code = (
        "import json, sys; import cognito_verify, cognito_verify.testing; "
        f"print(json.dumps(sorted(m for m in {FRAMEWORKS!r} "
        "if any(k == m or k.startswith(m + '.') for k in sys.modules))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
    # The probe can see a framework when one is imported (so it can fail).
    probe = code.replace("import cognito_verify,", "import starlette, cognito_verify,")
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == ["starlette"]


# Imported only when a user passes an httpx client (the key fetches use httpcore):
# httpx pulls in its CLI's dependencies (click, rich), a large share of a cold start.
NOT_NEEDED_TO_VERIFY = ["httpx", "click", "rich"]


@pytest.mark.parametrize("module", ["cognito_verify", "cognito_verify.alb"])
def test_import_pulls_in_no_http_client_library(module: str) -> None:
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps(sorted(m for m in {NOT_NEEDED_TO_VERIFY!r} "
        "if any(k == m or k.startswith(m + '.') for k in sys.modules))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
    # The probe sees httpx once something imports it (so it can fail).
    probe = code.replace(f"import {module};", f"import httpx, {module};")
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "httpx" in json.loads(out.stdout)


def test_the_alb_verifier_is_imported_on_first_use() -> None:
    code = (
        "import sys, cognito_verify; from cognito_verify.integrations import aws_lambda; "
        "before = 'cognito_verify.alb' in sys.modules; "
        "from cognito_verify import AlbVerifier; "
        "print(before, AlbVerifier.__module__, 'AlbVerifier' in dir(cognito_verify))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "cognito_verify.alb", "True"]
    with pytest.raises(AttributeError, match="no attribute 'AlbVerifer'"):
        cognito_verify.AlbVerifer  # noqa: B018 (a typo is still an AttributeError)
