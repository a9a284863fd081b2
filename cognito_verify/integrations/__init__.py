"""Framework adapters. Each submodule imports its framework; this package does not.

``TokenSource`` (where a request carries its token) is shared by every adapter and
imports no framework: ``from cognito_verify.integrations import TokenSource``.
"""

from ._http import TokenSource

__all__ = ["TokenSource"]
