"""`cognito-verify inspect` recognises a load balancer token; `verify --alb-arn` checks
one against a real loopback key server."""

from __future__ import annotations

import io
import json

from cognito_verify.cli import main
from cognito_verify.testing import LocalAlb

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/cli/50dc6c495c0c9188"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_CliPool01"


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def test_inspect_says_it_is_a_load_balancer_token() -> None:
    alb = LocalAlb(ARN, issuer=ISSUER, client_id="cli-client")
    code, out, _ = run(["inspect", alb.data_token("dora")])
    assert code == 0
    assert "Application Load Balancer x-amzn-oidc-data token" in out
    assert f"signer: {ARN}" in out and "client: cli-client" in out
    assert "--alb-arn" in out and "looks wrong: nothing obvious" in out
    assert '"username": "dora"' in out
    code, out, _ = run(["inspect", alb.data_token(header={"kid": "../x", "alg": "ES384"})])
    assert "kid is not a load balancer key id" in out and "ES256" in out


def test_verify_alb_mode() -> None:
    alb = LocalAlb(ARN, issuer=ISSUER, client_id="cli-client")
    with alb.serve() as server:
        base = ["--client-id", "cli-client", "--issuer", ISSUER]
        base += ["--public-keys-url", server.public_keys_url]
        code, out, err = run(["verify", "-", "--alb-arn", ARN, *base], alb.data_token("eve"))
        assert code == 0, err
        assert json.loads(out)["username"] == "eve"
        other = ARN.replace("123456789012", "999999999999")
        code, out, err = run(["verify", alb.data_token(), "--alb-arn", other, *base])
        assert (code, out) == (1, "") and err.startswith("invalid_signer:")
    code, _, err = run(["verify", alb.data_token(), "--alb-arn", ARN, "--client-id", "x"])
    assert code == 2 and "--issuer" in err
    code, _, err = run(["verify", alb.data_token(), "--client-id", "x"])
    assert code == 2 and "--user-pool-id" in err
