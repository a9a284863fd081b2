"""A complete Django project in one file: views, class views and a DRF endpoint
protected by Cognito access tokens.

Run it (Python 3.10+, ``pip install cognito-verify[drf]``):

    export COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123
    export COGNITO_CLIENT_ID=3n4b5urk1ft4fl3mg5e62d9ado
    python django_app.py runserver 127.0.0.1:8000       # WSGI
    uvicorn django_app:application                     # or ASGI

then call it with an access token:

    curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:8000/me

``COGNITO_JWKS_URL`` may point the key fetch somewhere else (an emulator); the tests
of this repository run this file against a local user pool that way.
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
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "cognito_verify.integrations.django.CognitoVerifyConfig",  # checks COGNITO_VERIFY
    ],
    MIDDLEWARE=["cognito_verify.integrations.django.CognitoMiddleware"],
    COGNITO_VERIFY={
        "USER_POOL_ID": os.environ["COGNITO_USER_POOL_ID"],
        "CLIENT_ID": os.environ["COGNITO_CLIENT_ID"].split(","),  # one id, or several
        "TOKEN_USE": "access",
        "LEEWAY": 5,  # seconds of clock skew tolerated
        "JWKS_URL": os.environ.get("COGNITO_JWKS_URL"),  # None: the pool's own URL
    },
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["cognito_verify.integrations.drf.CognitoAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "UNAUTHENTICATED_USER": None,  # no django.contrib.auth user needed
        "EXCEPTION_HANDLER": "cognito_verify.integrations.drf.exception_handler",
    },
)

import django  # noqa: E402

django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views import View  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from cognito_verify.integrations.django import (  # noqa: E402
    CognitoRequiredMixin,
    cognito_required,
)
from cognito_verify.integrations.drf import HasScope  # noqa: E402


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})  # no decorator: open to everyone


@cognito_required
def me(request: HttpRequest) -> JsonResponse:
    claims = request.cognito_claims  # set by CognitoMiddleware
    return JsonResponse({"username": claims.username, "groups": sorted(claims.groups)})


class AdminView(CognitoRequiredMixin, View):
    cognito_groups = "admin"

    async def get(self, request: HttpRequest) -> JsonResponse:  # async views work too
        return JsonResponse({"users": 1})


class Orders(APIView):
    permission_classes = [HasScope.of("orders/read")]

    def get(self, request: Request) -> Response:
        return Response({"orders": [], "for": request.auth.username})


urlpatterns = [
    path("health", health),
    path("me", me),
    path("admin", AdminView.as_view()),
    path("api/orders", Orders.as_view()),
]

application = get_asgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
