"""A complete Django Ninja API in one file, protected by Cognito access tokens.

Run it (Python 3.10+, ``pip install cognito-verify[ninja]``):

    export COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123
    export COGNITO_CLIENT_ID=3n4b5urk1ft4fl3mg5e62d9ado
    python ninja_app.py runserver 127.0.0.1:8000       # WSGI
    uvicorn ninja_app:application                     # or ASGI

then call it with an access token:

    curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:8000/api/me

``COGNITO_JWKS_URL`` may point the key fetch somewhere else (an emulator);
tests/test_integrations_ninja.py runs this file against a local user pool that way.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "change-me"),
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "ninja"],
    COGNITO_VERIFY={  # the Django adapter's setting: Ninja's auth classes read it
        "USER_POOL_ID": os.environ["COGNITO_USER_POOL_ID"],
        "CLIENT_ID": os.environ["COGNITO_CLIENT_ID"],
        "TOKEN_USE": "access",
        "JWKS_URL": os.environ.get("COGNITO_JWKS_URL"),  # None: the pool's own URL
    },
)

import django  # noqa: E402

django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.urls import path  # noqa: E402
from ninja import NinjaAPI  # noqa: E402

from cognito_verify.integrations.ninja import (  # noqa: E402
    AsyncCognitoBearer,
    CognitoBearer,
    CognitoRefusal,
    cognito_exception_handler,
)

api = NinjaAPI(auth=CognitoBearer(), title="orders")  # every operation needs a token
api.add_exception_handler(CognitoRefusal, cognito_exception_handler)  # our 401/403/503


@api.get("/health", auth=None)  # open to everyone
def health(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok"}


@api.get("/me")
def me(request: HttpRequest) -> dict[str, object]:
    claims = request.auth  # the verified Claims
    return {"username": claims.username, "groups": sorted(claims.groups)}


@api.get("/admin", auth=CognitoBearer(groups="admin"))
def admin(request: HttpRequest) -> dict[str, bool]:
    return {"admin": True}


@api.get("/orders", auth=AsyncCognitoBearer(scopes="orders/read"))
async def orders(request: HttpRequest) -> dict[str, object]:  # async: keys fetched async
    return {"orders": [], "for": request.auth.username}


urlpatterns = [path("api/", api.urls)]

application = get_asgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
