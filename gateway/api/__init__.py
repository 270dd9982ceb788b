"""The gateway's HTTP API: one router per resource under /api/v1, errors as RFC 9457 problem details."""

from gateway.api.app import create_app

__all__ = ["create_app"]
