"""The chaos runner's summary: per fault kind and in total, as a table and as JSON."""

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.chaos.run import RunResult

COLUMNS = (
    "fault",
    "runs",
    "faults",
    "accepted",
    "stored",
    "duplicates",
    "lost",
    "gaps open",
    "regressed",
    "stuck",
    "crashes",
    "result",
)


def summarise(results: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Figures per fault kind (a run with several kinds counts under each), plus `total`."""
    rows: dict[str, dict[str, Any]] = defaultdict(_empty)
    for result in results:
        labels = result.labels
        for key in {*labels, "total"}:
            row = rows[key]
            row["runs"] += 1
            row["faults"] += labels.count(key) if key != "total" else len(labels)
            if result.verdict is not None:
                v = result.verdict
                row["accepted"] += v.accepted
                row["stored"] += v.stored
                row["duplicates"] += v.duplicates
                row["lost"] += v.lost
                row["gaps_open"] += v.gaps_open
                row["regressed"] += v.regressed
                row["stuck"] += 0 if v.recovered else 1
            row["crashes"] += sum(len(codes) for codes in result.crashes.values())
            row["failed"] += 0 if result.ok else 1
    return {key: rows[key] for key in sorted(rows, key=lambda k: (k == "total", k))}


def _empty() -> dict[str, Any]:
    names = ("runs", "faults", "accepted", "stored", "duplicates", "lost", "gaps_open", "regressed", "stuck", "crashes")
    return {**dict.fromkeys(names, 0), "failed": 0}


def table(summary: dict[str, dict[str, Any]]) -> str:
    lines = []
    for key, row in summary.items():
        result = "PASS" if row["failed"] == 0 else f"FAIL ({row['failed']})"
        lines.append(
            (
                key,
                row["runs"],
                row["faults"],
                row["accepted"],
                row["stored"],
                row["duplicates"],
                row["lost"],
                row["gaps_open"],
                row["regressed"],
                row["stuck"],
                row["crashes"],
                result,
            )
        )
    widths = [max(len(str(c)) for c in column) for column in zip(COLUMNS, *lines, strict=True)]
    rule = "  ".join("-" * w for w in widths)

    def fmt(cells: tuple[Any, ...]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in pairs)

    body = [fmt(line) for line in lines]
    return "\n".join([fmt(COLUMNS), rule, *body[:-1], rule, body[-1]])


def write_json(path: Path, meta: dict[str, Any], summary: dict[str, dict[str, Any]], results: list[RunResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**meta, "summary": summary, "runs": [r.as_dict() for r in results]}
    path.write_text(json.dumps(document, indent=2) + "\n")
