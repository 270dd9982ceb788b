"""The replenishment pick list: per cabinet and GTIN below its par minimum, how many to pick to bring it to max.

On hand is the sum over the cabinet's bins and lots of the item. Only items with a par level are managed; an item
with a par level that the cabinet holds none of is on hand 0.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.rules.pharmacy import CabinetRules, ParLevel
from gateway.tracking.cabinets.fold import StockLine


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


def on_hand(lines: Iterable[StockLine]) -> dict[str, int]:
    """How many of each GTIN the cabinet holds, over all bins and lots."""
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.gtin] += line.quantity
    return dict(totals)


def is_below_par(held: int, par: ParLevel | None) -> bool:
    return par is not None and held < par.min


def pick_lines(site: str, cabinet: str, lines: Iterable[StockLine], rules: CabinetRules) -> list[PickLine]:
    """The cabinet's pick lines, by GTIN."""
    lines = list(lines)
    totals = on_hand(lines)
    bins: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        bins[line.gtin].add(line.bin)
    picks = []
    for gtin, par in sorted(rules.par.items()):
        held = totals.get(gtin, 0)
        if is_below_par(held, par):
            picks.append(
                PickLine(
                    site=site,
                    cabinet=cabinet,
                    ward=rules.ward,
                    gtin=gtin,
                    on_hand=held,
                    par_min=par.min,
                    par_max=par.max,
                    quantity=par.max - held,
                    bins=tuple(sorted(bins.get(gtin, ()))),
                )
            )
    return picks


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
