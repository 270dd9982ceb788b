"""Keyset (cursor) paging: a list's sort key, the predicate "after this row", and the opaque cursor that carries it.

Limit/offset makes the database walk and throw away every row before the page, so page 10,000 of specimens costs
what 10,000 pages cost. A keyset page starts where the last one ended instead: the cursor holds the last row's
sort key (every column of the ORDER BY, ending in a unique one), and the next statement asks for the rows after
it, which an index in that order finds directly.

The predicate is the expanded form `k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...` (per key, `<` where it sorts
descending), so keys may sort in mixed directions, plus a redundant `k1 >= v1` that gives the index a range to
start from. A nullable column sorts after its values (on both databases: its `IS NULL` flag is a key of its own
before it), and the cursor says which side of that line the last row was on.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa

Kind = Literal["datetime", "str", "int", "uuid"]

CURSOR_VERSION = 1


class InvalidCursorError(ValueError):
    """A cursor this list cannot continue from; the message says why and what to do (the API answers 400)."""


@dataclass(frozen=True, slots=True)
class SortKey:
    """One column (or expression) of a list's order."""

    expression: sa.ColumnElement[Any]
    kind: Kind
    descending: bool = False
    nullable: bool = False
    """NULLs sort after every value (in either direction), on SQLite and PostgreSQL alike."""


@dataclass(frozen=True, slots=True)
class Keyset:
    """A list's total order: its keys, the last of them unique (an id), and the name cursors are checked against."""

    name: str
    keys: tuple[SortKey, ...]

    def order_by(self) -> list[sa.ColumnElement[Any]]:
        order: list[sa.ColumnElement[Any]] = []
        for key in self.keys:
            if key.nullable:
                order.append(key.expression.is_(None))
            order.append(key.expression.desc() if key.descending else key.expression)
        return order

    def columns(self) -> list[sa.Label[Any]]:
        """The keys, labelled, to select beside the row (an expression key is not one of its columns)."""
        return [key.expression.label(f"_k{i}") for i, key in enumerate(self.keys)]

    def values_of(self, row: Any) -> tuple[Any, ...]:
        """The last row's sort key, from a row that selected `columns()`."""
        mapping = row._mapping
        return tuple(mapping[f"_k{i}"] for i in range(len(self.keys)))

    def after(self, values: Sequence[Any]) -> sa.ColumnElement[bool]:
        """Rows strictly after the row whose sort key is `values`, in this order."""
        atoms = list(self._atoms(values))
        alternatives: list[sa.ColumnElement[bool]] = []
        equal: list[sa.ColumnElement[bool]] = []
        for beyond, same in atoms:
            if beyond is not None:
                alternatives.append(sa.and_(*equal, beyond))
            equal.append(same)
        after = sa.or_(*alternatives) if alternatives else sa.false()
        first = self.keys[0]
        if not first.nullable and values[0] is not None:  # a range for the index; implied by `after` itself
            bound = first.expression <= values[0] if first.descending else first.expression >= values[0]
            return sa.and_(bound, after)
        return after

    def _atoms(self, values: Sequence[Any]) -> list[tuple[sa.ColumnElement[bool] | None, sa.ColumnElement[bool]]]:
        """(strictly beyond, equal) per sorted term; `None` where nothing can be beyond (all NULLs are equal)."""
        atoms: list[tuple[sa.ColumnElement[bool] | None, sa.ColumnElement[bool]]] = []
        for key, value in zip(self.keys, values, strict=True):
            column = key.expression
            if key.nullable:
                if value is None:  # among the NULLs, which come last and are all equal
                    atoms.append((None, column.is_(None)))
                    continue
                atoms.append((column.is_(None), column.is_not(None)))
            beyond = column < value if key.descending else column > value
            atoms.append((beyond, column == value))
        return atoms

    # -- the cursor ----------------------------------------------------------------------------------------------
    def encode(self, values: Sequence[Any], scope: str) -> str:
        """The opaque, URL-safe cursor for the row whose sort key is `values`, under filters `scope`."""
        body = {"v": CURSOR_VERSION, "l": self.name, "f": _digest(scope), "k": [_plain(v) for v in values]}
        raw = json.dumps(body, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, cursor: str, scope: str) -> tuple[Any, ...]:
        """The sort key a cursor carries; `InvalidCursorError` with the reason when it is not one of this list's."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            body = json.loads(raw)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursorError(
                "the cursor is not one this gateway made: pass the next_cursor of the previous page unchanged"
            ) from exc
        if not isinstance(body, dict) or body.get("v") != CURSOR_VERSION or not isinstance(body.get("k"), list):
            raise InvalidCursorError("the cursor is not one this gateway made (or an older one): start from page one")
        if body.get("l") != self.name:
            raise InvalidCursorError(
                f"the cursor belongs to another list or sort order ({body.get('l')}), not {self.name}: "
                "use the next_cursor this list answered"
            )
        if body.get("f") != _digest(scope):
            raise InvalidCursorError(
                "the cursor was made for other filters: repeat the first page's filters with it, or start again"
            )
        keys = body["k"]
        if len(keys) != len(self.keys):
            raise InvalidCursorError("the cursor does not fit this list's order: start from page one")
        try:
            return tuple(_parse(key, value) for key, value in zip(self.keys, keys, strict=True))
        except (TypeError, ValueError) as exc:
            raise InvalidCursorError(f"the cursor's sort key is damaged ({exc}): start from page one") from exc


def _digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _parse(key: SortKey, value: Any) -> Any:
    if value is None:
        if not key.nullable:
            raise ValueError("a missing value where the order has one")
        return None
    if key.kind == "datetime":
        if not isinstance(value, str):
            raise TypeError("a time that is not text")
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("a time without its zone")
        return parsed
    if key.kind == "uuid":
        return UUID(str(value))
    if key.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("a number that is not an integer")
        return value
    if not isinstance(value, str):
        raise TypeError("text that is not text")
    return value
