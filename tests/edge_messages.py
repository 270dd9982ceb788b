"""What a test watching an edge's `events` topic reads: one envelope, or several due at once as a JSON array."""

import json
from typing import Any


def envelopes_of(payload: bytes) -> list[dict[str, Any]]:
    """The envelopes of one message on the `events` topic, as JSON objects, in order."""
    body = json.loads(payload)
    return body if isinstance(body, list) else [body]
