"""Error messages name the exact argument, setting or flag to use: following the
advice in a message must work."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from cognito_verify import AlbVerifier, CognitoVerifier, ConfigurationError

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
CLI = [sys.executable, "-m", "cognito_verify.cli"]


def _advised(message: str) -> str:
    found = re.search(r"pass (\w+)=True", message)
    assert found, message
    return found.group(1)


def test_plain_http_key_url_advice_names_each_verifiers_own_keyword() -> None:
    with pytest.raises(ConfigurationError) as alb:
        AlbVerifier(ARN, client_id="c", issuer=ISSUER, public_keys_url="http://keys.example/k")
    keyword = _advised(alb.value.message)
    assert keyword == "allow_insecure_keys_url"
    AlbVerifier(ARN, client_id="c", issuer=ISSUER, public_keys_url="http://keys.example/k",
                **{keyword: True})  # the advice works
    with pytest.raises(ConfigurationError) as pool:
        CognitoVerifier("eu-west-1_AbCdEf123", client_id="c", token_use="access",
                        jwks_url="http://keys.example/jwks.json")
    keyword = _advised(pool.value.message)
    CognitoVerifier("eu-west-1_AbCdEf123", client_id="c", token_use="access",
                    jwks_url="http://keys.example/jwks.json", **{keyword: True})


@pytest.mark.parametrize("port", ["99999", "-5", "x"])
def test_local_pool_port_out_of_range_is_usage_not_internal(port: str, tmp_path: object) -> None:
    run = subprocess.run([*CLI, "local-pool", "--port", port, "--key-file", f"{tmp_path}/k.json"],
                         capture_output=True, timeout=120)
    assert run.returncode == 2 and b"--port" in run.stderr, run.stderr


def test_alb_arg_errors_name_the_flags() -> None:
    run = subprocess.run([*CLI, "verify", "a.b.c", "--alb-arn", "x", "--client-id", "c",
                          "--issuer", ISSUER], capture_output=True, timeout=120)
    assert run.returncode == 2 and b"--alb-arn 'x'" in run.stderr, run.stderr
    assert b"alb_arn" not in run.stderr
