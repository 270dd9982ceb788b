"""A cabinet's stock per item: par is per item (GTIN) per cabinet, so what counts is the sum over its bins and lots.

The stock table shows these rows, and the pick list is made of those below par: the two never disagree.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.rules.pharmacy import ParLevel
from gateway.tracking.cabinets.fold import StockLine


@dataclass(frozen=True, slots=True)
class ItemStock:
    """How many of one item the cabinet holds over all its bins and lots, against the item's par level."""

    gtin: str
    on_hand: int
    par: ParLevel | None
    bins: tuple[str, ...]
    """The bins that hold (or held) the item; empty when the cabinet never held it."""
    lines: tuple[StockLine, ...]

    @property
    def below_par(self) -> bool:
        return self.par is not None and self.on_hand < self.par.min


def item_stock(lines: Iterable[StockLine], par: Mapping[str, ParLevel]) -> list[ItemStock]:
    """One row per item the cabinet holds or has a par level for, by GTIN."""
    by_gtin: dict[str, list[StockLine]] = defaultdict(list)
    for line in lines:
        by_gtin[line.gtin].append(line)
    return [
        ItemStock(
            gtin=gtin,
            on_hand=sum(line.quantity for line in by_gtin.get(gtin, ())),
            par=par.get(gtin),
            bins=tuple(sorted({line.bin for line in by_gtin.get(gtin, ())})),
            lines=tuple(by_gtin.get(gtin, ())),
        )
        for gtin in sorted(by_gtin.keys() | par.keys())
    ]
