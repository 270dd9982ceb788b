"""Versioned rules in the `rules` table: parse and validate a document, import it as a new version, export YAML.

Version 0 is the shipped `default.yaml`; it is in force until someone imports their own, and each import becomes
the next version. The highest version that still validates is in force (a stored body that a newer wardlink no
longer accepts is skipped with an error in the log, never silently half-applied).
"""

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.rules.model import TrackingRules, default_rules
from gateway.storage.tables import rules as rules_table

log = logging.getLogger(__name__)

DEFAULTS_BY = "wardlink"


@dataclass(frozen=True, slots=True)
class RuleProblem:
    field: str
    reason: str


class RulesInvalidError(ValueError):
    """A rules document that cannot be used; `problems` names each field and the reason."""

    def __init__(self, source: str, problems: list[RuleProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(f"{p.field}: {p.reason}" for p in problems))


@dataclass(frozen=True, slots=True)
class RulesVersion:
    version: int
    created_at: datetime | None
    created_by: str
    comment: str


def _field(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def validate_document(raw: Any, source: str) -> TrackingRules:
    """A parsed document (mapping) as rules; a `version` in it is ignored (the store gives versions)."""
    if not isinstance(raw, Mapping):
        kind = "empty" if raw is None else type(raw).__name__
        raise RulesInvalidError(
            source, [RuleProblem("(document)", f"a rules document is a mapping with at least 'turnaround', not {kind}")]
        )
    body = {k: v for k, v in raw.items() if k != "version"}
    try:
        return TrackingRules.model_validate(body)
    except ValidationError as exc:
        problems = [RuleProblem(_field(tuple(e["loc"])), _reason(e["msg"])) for e in exc.errors()]
        raise RulesInvalidError(source, problems) from None


def parse_rules(text: str | bytes, source: str, *, media_type: str = "application/yaml") -> TrackingRules:
    """Rules from YAML (or JSON, when `media_type` says so); raises `RulesInvalidError` naming field and reason."""
    try:
        raw = json.loads(text) if "json" in media_type else yaml.safe_load(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RulesInvalidError(source, [RuleProblem("(document)", f"not JSON: {exc}")]) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesInvalidError(source, [RuleProblem("(document)", f"not YAML{at}: {problem}")]) from None
    return validate_document(raw, source)


def rules_document(rules: TrackingRules) -> dict[str, Any]:
    """The rules as plain JSON data, without the version (which belongs to the store)."""
    return rules.model_dump(mode="json", exclude={"version"})


class _QuotedDigits(yaml.SafeDumper):
    """Quotes strings of digits (GTINs): YAML 1.2 tools would read `00614141001019` as a number and drop the zeros."""


_QuotedDigits.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style='"' if value.isdigit() else None
    ),
)


def rules_yaml(rules: TrackingRules, about: RulesVersion | None = None) -> str:
    """The rules as a YAML file that `wardlink rules import` takes back unchanged."""
    header = f"# wardlink tracking rules, version {rules.version}"
    if about is not None:
        when = f" at {about.created_at:%Y-%m-%d %H:%M}Z" if about.created_at else ""
        header += f", by {about.created_by}{when}" + (f": {about.comment}" if about.comment else "")
    body = yaml.dump(rules_document(rules), Dumper=_QuotedDigits, sort_keys=False, allow_unicode=True, width=120)
    return f"{header}\n{body}"


def _stored(version: int, body: Any) -> TrackingRules:
    rules = validate_document(body, f"rules version {version}")
    return rules.model_copy(update={"version": version})


async def load_rules_in_force(engine: AsyncEngine) -> TrackingRules:
    """The highest stored version that validates, or the shipped defaults (version 0) when there is none."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.select(rules_table.c.version, rules_table.c.body).order_by(rules_table.c.version.desc())
        )
        for row in rows:
            try:
                return _stored(row.version, row.body)
            except RulesInvalidError as exc:
                log.error("rules version %d is not valid any more, skipped: %s", row.version, exc)
    return default_rules()


async def latest_version(engine: AsyncEngine) -> int:
    """The highest stored version (0 when only the defaults exist)."""
    async with engine.connect() as connection:
        result = await connection.execute(sa.select(sa.func.max(rules_table.c.version)))
        return int(result.scalar_one() or 0)


async def rules_at(engine: AsyncEngine, version: int) -> tuple[TrackingRules, RulesVersion] | None:
    """One version and who made it; version 0 is the shipped defaults; None when there is no such version."""
    if version == 0:
        return default_rules(), RulesVersion(0, None, DEFAULTS_BY, "shipped defaults")
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(rules_table).where(rules_table.c.version == version))).first()
    if row is None:
        return None
    return _stored(row.version, row.body), RulesVersion(row.version, row.created_at, row.created_by, row.comment)


async def rules_versions(engine: AsyncEngine) -> list[RulesVersion]:
    """Every stored version, newest first, then the shipped defaults (version 0)."""
    columns = (rules_table.c.version, rules_table.c.created_at, rules_table.c.created_by, rules_table.c.comment)
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(*columns).order_by(rules_table.c.version.desc()))
        stored = [RulesVersion(r.version, r.created_at, r.created_by, r.comment) for r in rows]
    return [*stored, RulesVersion(0, None, DEFAULTS_BY, "shipped defaults")]


Reproject = Callable[[AsyncConnection, TrackingRules], Awaitable[object]]
"""Re-folds what new rules change, in the transaction that stores them (`gateway.tracking.specimens.store`)."""


async def import_rules(
    engine: AsyncEngine, rules: TrackingRules, *, by: str, comment: str, now: datetime, reproject: Reproject
) -> TrackingRules:
    """Store validated rules as the next version and return them with it; they are in force from now on."""
    if not by.strip():
        raise ValueError("say who imports the rules (a user or badge id)")
    for _ in range(5):  # another gateway may take the same number at the same moment: take the next one
        try:
            async with engine.begin() as connection:
                current = (await connection.execute(sa.select(sa.func.max(rules_table.c.version)))).scalar_one()
                version = int(current or 0) + 1
                await connection.execute(
                    rules_table.insert().values(
                        version=version,
                        body=rules_document(rules),
                        created_at=now,
                        created_by=by.strip()[:64],
                        comment=comment[:200],
                    )
                )
                in_force = rules.model_copy(update={"version": version})
                # Open specimens take the new targets and due times in the same transaction.
                await reproject(connection, in_force)
        except IntegrityError:
            continue
        return in_force
    raise RuntimeError("could not take a new rules version after 5 attempts; try again")
