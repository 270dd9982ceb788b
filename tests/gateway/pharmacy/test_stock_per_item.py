"""Par is per item per cabinet: what counts is the item's stock summed over its bins and lots, and the stock table's
rows and the pick list agree on it."""

from datetime import UTC, date, datetime

from gateway.rules.pharmacy import CabinetRules, ParLevel
from gateway.tracking.cabinets.fold import StockLine
from gateway.tracking.cabinets.items import item_stock
from gateway.tracking.cabinets.replenishment import pick_lines
from tests.pharmacy_events import IBUPROFEN, INSULIN, PARACETAMOL

AT = datetime(2026, 11, 23, 8, tzinfo=UTC)
RULES = CabinetRules(
    ward="ward-3a",
    par={PARACETAMOL: ParLevel(min=25, max=40), IBUPROFEN: ParLevel(min=5, max=10), INSULIN: ParLevel(min=4, max=8)},
)


def line(bin_: str, gtin: str, quantity: int, lot: str = "L1") -> StockLine:
    return StockLine(bin_, gtin, lot, date(2027, 6, 30), quantity, AT)


def test_an_item_below_par_over_its_bins_is_flagged_and_picked_though_no_bin_alone_says_so() -> None:
    # 13 on hand (9 + 4 in two bins, one more lot), par min 25: below par, whatever a bin holds
    stock = [line("D1-01", PARACETAMOL, 9), line("D2-01", PARACETAMOL, 4), line("D2-01", PARACETAMOL, 0, lot="L2")]
    items = {i.gtin: i for i in item_stock(stock, RULES.par)}
    assert (items[PARACETAMOL].on_hand, items[PARACETAMOL].bins, items[PARACETAMOL].below_par) == (
        13,
        ("D1-01", "D2-01"),
        True,
    )
    picks = pick_lines("general-hospital", "cabinet-1", stock, RULES)
    assert [(p.gtin, p.on_hand, p.par_min, p.quantity, p.bins) for p in picks if p.gtin == PARACETAMOL] == [
        (PARACETAMOL, 13, 25, 27, ("D1-01", "D2-01"))
    ]


def test_an_item_at_par_over_its_bins_is_not_flagged_though_each_bin_is_under_the_items_par() -> None:
    stock = [line("D1-01", PARACETAMOL, 13), line("D3-05", PARACETAMOL, 12)]
    items = {i.gtin: i for i in item_stock(stock, RULES.par)}
    assert (items[PARACETAMOL].on_hand, items[PARACETAMOL].below_par) == (25, False)
    assert PARACETAMOL not in {p.gtin for p in pick_lines("s", "cabinet-1", stock, RULES)}


def test_an_item_with_a_par_level_that_no_bin_holds_is_a_row_at_zero_and_on_the_pick_list() -> None:
    stock = [line("D1-01", PARACETAMOL, 30), line("D1-02", IBUPROFEN, 6)]
    items = item_stock(stock, RULES.par)
    assert [(i.gtin, i.on_hand, i.bins, i.below_par) for i in items] == [
        (PARACETAMOL, 30, ("D1-01",), False),
        (IBUPROFEN, 6, ("D1-02",), False),
        (INSULIN, 0, (), True),
    ]
    assert [(p.gtin, p.quantity) for p in pick_lines("s", "cabinet-1", stock, RULES)] == [(INSULIN, 8)]


def test_the_stock_table_and_the_pick_list_never_disagree() -> None:
    stock = [line("D1-01", PARACETAMOL, 20), line("D1-02", PARACETAMOL, 4), line("F-01", INSULIN, 3)]
    flagged = {i.gtin for i in item_stock(stock, RULES.par) if i.below_par}
    assert flagged == {p.gtin for p in pick_lines("s", "cabinet-1", stock, RULES)} == {PARACETAMOL, INSULIN, IBUPROFEN}


def test_an_item_without_par_is_listed_but_never_below_par() -> None:
    stock = [line("D4-01", "00614141009992", 1)]
    [item] = [i for i in item_stock(stock, RULES.par) if i.gtin == "00614141009992"]
    assert (item.par, item.below_par) == (None, False)
