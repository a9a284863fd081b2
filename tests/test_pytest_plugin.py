"""The pytest plugin, run the way users run it: in an inner pytest session (pytester)
that finds it through the ``pytest11`` entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A fresh interpreter, warnings as errors, like the user's own suite."""
    pytester.makeini(
        "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"
    )
    return pytester.runpytest_subprocess("-q", *args)


def test_registered_through_the_entry_point() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names.get("cognito_verify") == "cognito_verify.pytest_plugin"


def test_user_tests_a_protected_route_in_three_lines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_app="""
        from typing import Annotated
        from fastapi import Depends, FastAPI
        from fastapi.testclient import TestClient
        from cognito_verify import Claims
        from cognito_verify.integrations.fastapi import CognitoAuth

        def create_app(verifier):
            auth = CognitoAuth(verifier)
            app = FastAPI()

            @app.get("/admin")
            def admin(claims: Annotated[Claims, Depends(auth.required(groups="admin"))]):
                return {"user": claims.username}

            return app

        def test_admin(cognito_verifier, cognito_headers):
            client = TestClient(create_app(cognito_verifier))
            ok = client.get("/admin", headers=cognito_headers("ann", groups=["admin"]))
            assert ok.json() == {"user": "ann"}
            assert client.get("/admin", headers=cognito_headers("bob")).status_code == 403
            assert client.get("/admin").status_code == 401
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_fixtures_marker_and_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixtures="""
        import pytest
        from cognito_verify import InvalidTokenUseError, TokenExpiredError
        from cognito_verify.testing import LocalUserPool

        def test_defaults(cognito_pool, cognito_verifier, cognito_token_use):
            assert isinstance(cognito_pool, LocalUserPool)
            assert cognito_token_use == "access"
            claims = cognito_verifier.verify(cognito_pool.access_token("zoe", scopes=["a/b"]))
            assert claims.username == "zoe" and claims.scopes == {"a/b"}
            with pytest.raises(InvalidTokenUseError):
                cognito_verifier.verify(cognito_pool.id_token("zoe"))

        @pytest.mark.cognito(token_use="id", user_pool_id="eu-west-2_Other1", client_ids=["web"])
        def test_marker(cognito_pool, cognito_verifier, cognito_headers):
            assert cognito_pool.user_pool_id == "eu-west-2_Other1"
            token = cognito_headers("amy")["Authorization"].split()[1]
            claims = cognito_verifier.verify(token)
            assert (claims.token_use, claims.client_id, claims.username) == ("id", "web", "amy")

        def test_clock_moves_without_sleeping(cognito_pool, cognito_verifier):
            token = cognito_pool.access_token(lifetime=60)
            now = cognito_pool.clock()
            cognito_pool.clock = lambda: now + 61
            with pytest.raises(TokenExpiredError):
                cognito_verifier.verify(token)

        def test_pools_are_per_test_but_share_a_key(cognito_pool, request):
            first = request.getfixturevalue("_cognito_signing_key")
            assert cognito_pool.private_key is first

        def test_bad_marker(cognito_pool):
            pass

        test_bad_marker = pytest.mark.cognito(colour="red")(test_bad_marker)
        """
    )
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=4, errors=1)
    assert "@pytest.mark.cognito: unknown option(s) ['colour']" in result.stdout.str()


def test_override_token_use_for_a_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_override="""
        import pytest

        @pytest.fixture
        def cognito_token_use():
            return "id"

        def test_id(cognito_verifier, cognito_pool):
            assert cognito_verifier.verify(cognito_pool.id_token("kim")).username == "kim"
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)
