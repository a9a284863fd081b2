"""A local user pool that mints real RS256 Cognito-shaped tokens, for tests.

    from cognito_verify.testing import LocalUserPool

    pool = LocalUserPool()
    verifier = pool.verifier(token_use="access")      # offline, keys in memory
    claims = verifier.verify(pool.access_token("alice", groups=["admin"]))

    with pool.serve() as server:                       # a real HTTP JWKS endpoint
        verifier = CognitoVerifier(pool.user_pool_id, client_id=pool.client_id,
                                   token_use="id", jwks_url=server.jwks_url)

Tokens carry the real AWS issuer for the pool id, so a verifier checks them exactly
as it checks Cognito's. Never use this module's keys outside tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._pool import TokenUse, partition_domain
from .verifier import CognitoVerifier

__all__ = [
    "LocalUserPool",
    "JWKSServer",
    "LocalAlb",
    "AlbKeyServer",
    "b64url",
    "encode_token",
]


def b64url(data: bytes) -> str:
    """Unpadded base64url, as used in compact JWS."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def encode_token(
    header: Mapping[str, Any], payload: Mapping[str, Any], key: rsa.RSAPrivateKey | None
) -> str:
    """Serialize and sign (RS256) a compact JWS; ``key=None`` leaves the signature empty."""
    signing_input = f"{b64url(_json(header))}.{b64url(_json(payload))}"
    if key is None:
        return signing_input + "."
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def _kid_for(key: rsa.RSAPrivateKey) -> str:
    # Cognito kids are standard base64 (with + / =); tests should see the same.
    n = key.public_key().public_numbers().n
    return base64.b64encode(hashlib.sha256(n.to_bytes(256, "big")).digest()).decode("ascii")


def _public_jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {"alg": "RS256", "e": b64url(e), "kid": kid, "kty": "RSA", "n": b64url(n), "use": "sig"}


class LocalUserPool:
    """An in-process stand-in for a Cognito user pool's token signing.

    Args:
        user_pool_id: the pool id tokens claim to come from (sets ``iss``).
        client_ids: the app clients of the pool; the first is the default.
        clock: Unix time source for ``iat``/``exp``/``auth_time``.
        key_size: RSA modulus size of the signing key.
        key: an existing RSA private key to sign with (key generation is the slow
            part; test fixtures reuse one key across many pools).
    """

    def __init__(
        self,
        user_pool_id: str = "eu-west-1_LocalPool1",
        client_ids: Sequence[str] = ("3n4b5urk1ft4fl3mg5e62d9ado",),
        *,
        clock: Callable[[], float] = time.time,
        key_size: int = 2048,
        key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        if isinstance(client_ids, str):
            client_ids = (client_ids,)
        self.user_pool_id = user_pool_id
        self.client_ids = tuple(client_ids)
        self.region = user_pool_id.split("_", 1)[0]
        self.clock = clock
        self._key_size = key_size
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.kid = self.add_key(key)

    # --- keys ------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        # The partition's domain (amazonaws.com.cn in China); where it is not
        # confirmed (eusc-*), pass claims={"iss": ...} and issuer= to the verifier.
        domain = partition_domain(self.region) or "amazonaws.com"
        return f"https://cognito-idp.{self.region}.{domain}/{self.user_pool_id}"

    @property
    def client_id(self) -> str:
        return self.client_ids[0]

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The current signing key (for crafting attack tokens in tests)."""
        return self._keys[self.kid]

    def add_key(self, key: rsa.RSAPrivateKey | None = None) -> str:
        """Add a signing key to the JWKS (not yet used for signing); returns its kid."""
        key = key or rsa.generate_private_key(public_exponent=65537, key_size=self._key_size)
        kid = _kid_for(key)
        self._keys[kid] = key
        return kid

    def rotate_key(self, *, drop_old: bool = False) -> str:
        """Start signing with a new key, as Cognito does on rotation; returns its kid."""
        old = self.kid
        self.kid = self.add_key()
        if drop_old:
            del self._keys[old]
        return self.kid

    def remove_key(self, kid: str) -> None:
        del self._keys[kid]
        if kid == self.kid:
            self.kid = next(iter(self._keys), "")

    @property
    def jwks(self) -> dict[str, Any]:
        """The pool's public keys as a JWKS dict."""
        return {"keys": [_public_jwk(kid, key) for kid, key in self._keys.items()]}

    # --- tokens ----------------------------------------------------------------------

    def _common(self, token_use: str, lifetime: float) -> dict[str, Any]:
        now = int(self.clock())
        return {
            "iss": self.issuer,
            "token_use": token_use,
            "auth_time": now,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": str(uuid.uuid4()),
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
        }

    def _finish(
        self, payload: dict[str, Any], claims: Mapping[str, Any] | None, omit: Sequence[str]
    ) -> str:
        payload.update(claims or {})
        for name in omit:
            payload.pop(name, None)
        return self.sign(payload)

    def id_token(
        self,
        username: str = "alice",
        *,
        groups: Sequence[str] = (),
        client_id: str | None = None,
        email: str | None = "alice@example.com",
        lifetime: float = 3600,
        claims: Mapping[str, Any] | None = None,
        omit: Sequence[str] = (),
    ) -> str:
        """An ID token for ``username``; ``claims`` overrides or adds any claim."""
        payload = self._common("id", lifetime)
        payload.update(
            sub=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.user_pool_id}/{username}")),
            aud=client_id or self.client_id,
            **{"cognito:username": username},
        )
        if email is not None:
            payload.update(email=email, email_verified=True)
        if groups:
            payload["cognito:groups"] = list(groups)
        return self._finish(payload, claims, omit)

    def access_token(
        self,
        username: str = "alice",
        *,
        groups: Sequence[str] = (),
        scopes: Sequence[str] = ("aws.cognito.signin.user.admin",),
        client_id: str | None = None,
        lifetime: float = 3600,
        claims: Mapping[str, Any] | None = None,
        omit: Sequence[str] = (),
    ) -> str:
        """An access token for ``username`` (no ``aud``; ``client_id`` and ``scope``)."""
        payload = self._common("access", lifetime)
        payload.update(
            sub=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.user_pool_id}/{username}")),
            client_id=client_id or self.client_id,
            username=username,
            scope=" ".join(scopes),
            version=2,
        )
        if groups:
            payload["cognito:groups"] = list(groups)
        return self._finish(payload, claims, omit)

    def client_credentials_token(
        self,
        *,
        scopes: Sequence[str] = ("orders-api/orders.read",),
        client_id: str | None = None,
        lifetime: float = 3600,
        claims: Mapping[str, Any] | None = None,
        omit: Sequence[str] = (),
    ) -> str:
        """A machine-to-machine access token: ``sub`` is the client id, no user, no groups."""
        cid = client_id or self.client_id
        payload = self._common("access", lifetime)
        del payload["auth_time"], payload["origin_jti"], payload["event_id"]
        payload.update(sub=cid, client_id=cid, scope=" ".join(scopes), version=2)
        return self._finish(payload, claims, omit)

    def sign(
        self,
        payload: Mapping[str, Any],
        *,
        header: Mapping[str, Any] | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        """Sign any payload (and header) with the pool's current key, or ``key``."""
        if header is None:
            header = {"kid": self.kid, "alg": "RS256"}
        return encode_token(header, payload, key or self.private_key)

    # --- AWS Lambda events ----------------------------------------------------------

    def lambda_event(self, shape: str, token: str | None = None, **options: Any) -> dict[str, Any]:
        """A realistic AWS Lambda event of ``shape`` carrying ``token`` in its
        ``Authorization`` header (or authorizer field), in this pool's region.

        Shapes: ``rest`` (API Gateway REST, payload 1.0), ``http`` (HTTP API, 2.0),
        ``alb``, ``alb_multi`` (multi-value headers), ``function_url``,
        ``rest_token_authorizer``, ``rest_request_authorizer``, ``http_authorizer``,
        ``appsync_authorizer``. Options: ``method``, ``path``, ``headers``, ``body``,
        ``cookies`` (name -> value), ``scheme`` (``"Bearer"``; ``None`` for a bare
        token), ``authorizer=True`` (``rest``/``http``: add the claims an API Gateway
        Cognito/JWT authorizer writes), ``account``, ``api_id``, ``stage``. See
        docs/aws-lambda.md.
        """
        from ._lambda_events import event

        options.setdefault("region", self.region)
        return event(shape, token, **options)

    # --- serving the JWKS ------------------------------------------------------------

    def verifier(
        self,
        *,
        token_use: TokenUse | None,
        client_id: str | Sequence[str] | None | Any = ...,
        **options: Any,
    ) -> CognitoVerifier:
        """A verifier for this pool with its keys in memory (no HTTP)."""
        options.setdefault("jwks", self.jwks)
        return CognitoVerifier(
            self.user_pool_id,
            client_id=list(self.client_ids) if client_id is ... else client_id,
            token_use=token_use,
            **options,
        )

    def mock_transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` answering every GET with the current JWKS."""

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=self.jwks)

        return httpx.MockTransport(handler)

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[JWKSServer]:
        """Serve the JWKS over real HTTP on 127.0.0.1 while the block runs, at
        ``/{user_pool_id}/.well-known/jwks.json`` (Cognito's path).

        Args:
            port: the TCP port; 0 (the default) picks a free one (``server.jwks_url``
                says which).

        Raises:
            OSError: the port cannot be bound (in use, or privileged).
        """
        server = JWKSServer(
            lambda: self.jwks, path=f"/{self.user_pool_id}/.well-known/jwks.json", port=port
        )
        with server:
            yield server


_Server = TypeVar("_Server", bound="_LoopbackServer")


class _LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 served from a daemon thread while the
    ``with`` block runs; subclasses build ``self._server`` with their handler."""

    _server: ThreadingHTTPServer

    def _listen(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self: _Server) -> _Server:
        # A short poll interval: shutdown() waits up to one interval, and the default
        # 0.5 s would add half a second to every test that uses a server.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()


class JWKSServer(_LoopbackServer):
    """A real loopback HTTP server answering GET on ``path`` with a JWKS.

    ``request_count`` counts the requests it answered; ``jwks_url`` is its address.
    """

    def __init__(
        self, jwks: Callable[[], Mapping[str, Any]], path: str = "/jwks.json", port: int = 0
    ) -> None:
        self._jwks = jwks
        self.path = path
        self.request_count = 0
        self._count_lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with outer._count_lock:
                    outer.request_count += 1
                if self.path != outer.path:
                    self.send_error(404)
                    return
                body = _json(outer._jwks())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._listen(Handler, port)

    @property
    def jwks_url(self) -> str:
        return self._address() + self.path


# --- Application Load Balancer ----------------------------------------------------------


def _b64_padded(data: bytes) -> str:
    """base64url with its "=" padding kept, as the load balancer writes its segments."""
    return base64.urlsafe_b64encode(data).decode("ascii")


class LocalAlb:
    """An in-process stand-in for an Application Load Balancer's ``authenticate-cognito``
    rule: mints ``x-amzn-oidc-data`` tokens as the load balancer does (ES256, padded
    base64url segments, header ``alg``/``kid``/``signer``/``iss``/``client``/``exp``)
    and serves its public keys, one PEM per kid, from a real loopback server.

    Args:
        alb_arn: the ``signer`` written in every token.
        pool: the user pool behind the rule; its issuer and first app client become
            ``iss`` and ``client``, and :meth:`headers` adds a real access token of it.
        issuer / client_id: instead of ``pool``.
        clock: Unix time source for ``exp``.
        lifetime: seconds until ``exp`` (the load balancer's tokens are short-lived).
    """

    def __init__(
        self,
        alb_arn: str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
        "loadbalancer/app/local-alb/50dc6c495c0c9188",
        *,
        pool: LocalUserPool | None = None,
        issuer: str | None = None,
        client_id: str | None = None,
        clock: Callable[[], float] = time.time,
        lifetime: float = 120,
    ) -> None:
        self.alb_arn = alb_arn
        self.pool = pool
        self.issuer = issuer or (pool.issuer if pool else LocalUserPool().issuer)
        self.client_id = client_id or (pool.client_id if pool else "3n4b5urk1ft4fl3mg5e62d9ado")
        self.clock = clock
        self.lifetime = lifetime
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.kid = self.add_key()

    # --- keys ------------------------------------------------------------------------

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return self._keys[self.kid]

    def add_key(self, key: ec.EllipticCurvePrivateKey | None = None) -> str:
        """Publish a new P-256 key under a fresh UUID kid (not yet signing); its kid."""
        kid = str(uuid.uuid4())
        self._keys[kid] = key or ec.generate_private_key(ec.SECP256R1())
        return kid

    def rotate_key(self) -> str:
        """Sign with a new key from now on; the old one stays published."""
        self.kid = self.add_key()
        return self.kid

    def remove_key(self, kid: str) -> None:
        del self._keys[kid]

    def public_key_pem(self, kid: str) -> bytes | None:
        """The PEM the key endpoint serves for ``kid`` (None: no such key)."""
        key = self._keys.get(kid)
        if key is None:
            return None
        return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    # --- tokens ----------------------------------------------------------------------

    def sign(
        self,
        header: Mapping[str, Any],
        payload: Mapping[str, Any],
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        padded: bool = True,
    ) -> str:
        """Serialize and sign (ES256, signature ``r || s``) any header and payload;
        ``padded=False`` writes unpadded base64url instead of the load balancer's form."""
        enc = _b64_padded if padded else b64url
        signing_input = f"{enc(_json(header))}.{enc(_json(payload))}"
        der = (key or self.private_key).sign(
            signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())
        )
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{enc(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def data_token(
        self,
        username: str = "alice",
        *,
        email: str | None = "alice@example.com",
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        lifetime: float | None = None,
        padded: bool = True,
    ) -> str:
        """An ``x-amzn-oidc-data`` value for ``username``; ``claims`` / ``header``
        override or add payload / header fields (``None`` values remove them)."""
        exp = int(self.clock() + (self.lifetime if lifetime is None else lifetime))
        head: dict[str, Any] = {
            "typ": "JWT",
            "kid": self.kid,
            "alg": "ES256",
            "iss": self.issuer,
            "client": self.client_id,
            "signer": self.alb_arn,
            "exp": exp,
        }
        body: dict[str, Any] = {"sub": self.sub(username), "username": username}
        if email is not None:
            body.update(email=email, email_verified="true")
        body.update(exp=exp, iss=self.issuer)
        for target, extra in ((head, header), (body, claims)):
            for name, value in (extra or {}).items():
                if value is None:
                    target.pop(name, None)
                else:
                    target[name] = value
        return self.sign(head, body, padded=padded)

    def sub(self, username: str) -> str:
        """The ``sub`` of ``username`` (the pool's, when a pool is attached)."""
        pool_id = self.pool.user_pool_id if self.pool else "alb"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pool_id}/{username}"))

    def headers(
        self,
        username: str = "alice",
        *,
        groups: Sequence[str] = (),
        scopes: Sequence[str] | None = None,
        **options: Any,
    ) -> dict[str, str]:
        """The three headers the load balancer adds to a request it forwards:
        ``x-amzn-oidc-data``, ``x-amzn-oidc-identity`` and, with a pool, a real
        ``x-amzn-oidc-accesstoken`` (without a ``Bearer`` prefix).

        ``groups`` and ``scopes`` go into the access token (the load balancer's own
        token carries neither); ``options`` go to :meth:`data_token`.

        Raises:
            ValueError: ``groups`` or ``scopes`` given to a ``LocalAlb`` without a pool.
        """
        out = {
            "x-amzn-oidc-data": self.data_token(username, **options),
            "x-amzn-oidc-identity": self.sub(username),
        }
        if self.pool is not None:
            extra: dict[str, Any] = {"groups": groups}
            if scopes is not None:
                extra["scopes"] = scopes
            out["x-amzn-oidc-accesstoken"] = self.pool.access_token(username, **extra)
        elif groups or scopes is not None:
            raise ValueError(
                "groups and scopes belong to the access token: "
                "pass LocalAlb(..., pool=LocalUserPool(...)) to mint one"
            )
        return out

    # --- serving the keys --------------------------------------------------------------

    def verifier(self, public_keys_url: str, **options: Any) -> Any:
        """An ``AlbVerifier`` for this load balancer, its keys fetched from
        ``public_keys_url`` (``server.public_keys_url`` of :meth:`serve`)."""
        from .alb import AlbVerifier

        options.setdefault("client_id", self.client_id)
        return AlbVerifier(
            self.alb_arn, issuer=self.issuer, public_keys_url=public_keys_url, **options
        )

    @contextmanager
    def serve(self) -> Iterator[AlbKeyServer]:
        """Serve the public keys over real HTTP/1.1 on 127.0.0.1 while the block runs."""
        with AlbKeyServer(self.public_key_pem) as server:
            yield server


class AlbKeyServer(_LoopbackServer):
    """A real loopback HTTP/1.1 (keep-alive) server answering ``GET /{kid}`` with the
    PEM ``pem(kid)`` returns, 404 when it returns None.

    ``request_count`` counts every request, ``requests`` lists the paths asked for;
    set ``status`` to another code (503) to simulate an outage, ``delay`` to answer
    that many seconds late.
    """

    def __init__(self, pem: Callable[[str], bytes | None]) -> None:
        self._pem = pem
        self.request_count = 0
        self.requests: list[str] = []
        self.status = 200
        self.delay = 0.0
        self._count_lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with outer._count_lock:
                    outer.request_count += 1
                    outer.requests.append(self.path)
                if outer.delay:
                    time.sleep(outer.delay)
                body = outer._pem(self.path.lstrip("/")) if outer.status == 200 else None
                status = outer.status if outer.status != 200 else (200 if body else 404)
                body = body or b"no such key"
                self.send_response(status)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._listen(Handler)

    @property
    def public_keys_url(self) -> str:
        return self._address()
