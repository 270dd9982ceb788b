"""The replenishment pick list: per cabinet and GTIN below its par minimum, how many to pick to bring it to max.

On hand is the sum over the cabinet's bins and lots of the item (`items.item_stock`, whose rows the stock table
shows too). Only items with a par level are managed; an item with a par level that the cabinet holds none of is on
hand 0.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.rules.pharmacy import CabinetRules
from gateway.tracking.cabinets.fold import StockLine
from gateway.tracking.cabinets.items import item_stock


@dataclass(frozen=True, slots=True)
class PickLine:
    """One line of the pick list: bring `quantity` of `gtin` to `cabinet` (on `ward`), into `bins`."""

    site: str
    cabinet: str
    ward: str
    gtin: str
    on_hand: int
    par_min: int
    par_max: int
    quantity: int
    """par_max - on_hand."""
    bins: tuple[str, ...]
    """The bins that hold (or held) the item; empty when the cabinet has never held it."""


def pick_lines(site: str, cabinet: str, lines: Iterable[StockLine], rules: CabinetRules) -> list[PickLine]:
    """The cabinet's pick lines, by GTIN: the items of its stock table (`item_stock`) that are below par."""
    return [
        PickLine(
            site=site,
            cabinet=cabinet,
            ward=rules.ward,
            gtin=item.gtin,
            on_hand=item.on_hand,
            par_min=item.par.min,
            par_max=item.par.max,
            quantity=item.par.max - item.on_hand,
            bins=item.bins,
        )
        for item in item_stock(lines, rules.par)
        if item.below_par and item.par is not None
    ]


def pick_list(
    stock: Mapping[tuple[str, str], Iterable[StockLine]],
    cabinets: Mapping[str, CabinetRules],
    *,
    ward: str | None = None,
) -> list[PickLine]:
    """Every pick line of the given cabinets' stock ((site, cabinet) -> lines), by ward, cabinet and GTIN.

    Cabinets without rules have no par levels and so nothing to pick; `ward` keeps only that ward's cabinets.
    """
    picks = []
    for (site, cabinet), lines in stock.items():
        rules = cabinets.get(cabinet)
        if rules is None or (ward is not None and rules.ward != ward):
            continue
        picks += pick_lines(site, cabinet, lines, rules)
    return sorted(picks, key=lambda p: (p.ward, p.site, p.cabinet, p.gtin))
