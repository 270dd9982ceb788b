"""Turn a rules document into `TrackingRules`, or a ValueError that names the file, each field and the reason."""

from pathlib import Path
from typing import Any

from pydantic import ValidationError


def rules_error(source: Path | str, raw: Any) -> "TrackingRules":  # noqa: F821
    from gateway.rules.model import TrackingRules

    if not isinstance(raw, dict):
        raise ValueError(f"{source}: a rules file is a mapping with at least 'turnaround'")
    try:
        return TrackingRules.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise ValueError(f"{source}: {problems}") from None
