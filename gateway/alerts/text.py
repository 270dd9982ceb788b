"""How alert messages write times and durations, the same way everywhere."""

from datetime import datetime, timedelta


def clock_time(value: datetime | None) -> str:
    """`08:42Z` (UTC), or `?` when unknown."""
    return f"{value:%H:%M}Z" if value is not None else "?"


def minutes_text(span: timedelta) -> str:
    """`7 min`, `2 h 05 min`: whole minutes, rounded down."""
    minutes = max(0, int(span.total_seconds() // 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
