"""The pick list (on hand vs par per cabinet and GTIN), the pharmacy rules that feed it, and the shipped defaults."""

from collections import defaultdict

import pytest
from pydantic import ValidationError

from gateway.composition.stores import Stores
from gateway.rules import default_rules
from gateway.rules.pharmacy import CabinetRules, DeliveryRules, ParLevel
from gateway.tracking.cabinets.fold import StockLine
from gateway.tracking.cabinets.replenishment import pick_list
from gateway.tracking.cabinets.store import below_par
from simulators.hospital.hospital import Hospital
from simulators.hospital.scenario import available, load_scenario
from tests.pharmacy_events import EXPIRY, IBUPROFEN, INSULIN, PARACETAMOL, SITE, T0, Seq, cabinet_event, item

WARD_3A = CabinetRules(
    ward="ward-3a",
    par={PARACETAMOL: ParLevel(min=10, max=30), IBUPROFEN: ParLevel(min=5, max=10), INSULIN: ParLevel(min=2, max=6)},
)


def line(bin_: str, gtin: str, quantity: int, lot: str = "L1") -> StockLine:
    return StockLine(bin_, gtin, lot, EXPIRY, quantity, T0)


def test_an_item_below_its_minimum_is_picked_up_to_its_maximum_over_all_bins_and_lots() -> None:
    stock = {
        (SITE, "cabinet-1"): [
            line("D1-01", PARACETAMOL, 4),
            line("D1-01", PARACETAMOL, 3, lot="L2"),
            line("D2-05", PARACETAMOL, 2),  # 9 in all: below 10
            line("D1-02", IBUPROFEN, 5),  # at its minimum: not below
        ]
    }
    picks = pick_list(stock, {"cabinet-1": WARD_3A})
    assert [(p.cabinet, p.ward, p.gtin, p.on_hand, p.par_min, p.par_max, p.quantity, p.bins) for p in picks] == [
        ("cabinet-1", "ward-3a", PARACETAMOL, 9, 10, 30, 21, ("D1-01", "D2-05")),
        ("cabinet-1", "ward-3a", INSULIN, 0, 2, 6, 6, ()),  # never held: on hand 0, no bin yet
    ]


def test_cabinets_without_rules_or_on_another_ward_are_not_picked() -> None:
    stock = {(SITE, "cabinet-1"): [], (SITE, "cabinet-x"): []}
    icu = WARD_3A.model_copy(update={"ward": "icu"})
    assert [p.cabinet for p in pick_list(stock, {"cabinet-1": WARD_3A})] == ["cabinet-1"] * 3
    assert pick_list(stock, {"cabinet-1": icu}, ward="ward-3a") == []
    assert {p.ward for p in pick_list(stock, {"cabinet-1": icu}, ward="icu")} == {"icu"}


def test_a_par_maximum_below_its_minimum_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="par max 4 is below min 5"):
        ParLevel(min=5, max=4)
    with pytest.raises(ValidationError, match="GTIN '00614141001018' has a wrong check digit"):
        CabinetRules(ward="icu", par={"00614141001018": ParLevel(min=1, max=2)})
    with pytest.raises(ValidationError, match=r'GTIN 614141001019 is a number: quote it \("00614141001019"\)'):
        CabinetRules.model_validate({"ward": "icu", "par": {614141001019: {"min": 1, "max": 2}}})  # unquoted YAML
    with pytest.raises(ValidationError, match="refrigerated_bins is set but refrigerated is false"):
        CabinetRules(ward="icu", refrigerated_bins=["F-01"])
    with pytest.raises(ValidationError, match=r"target_minutes\.stat is 0"):
        DeliveryRules(target_minutes={"stat": 0, "routine": 120})


def test_fridge_bins_and_badges() -> None:
    fridge = CabinetRules(ward="icu", refrigerated=True, refrigerated_bins=["F-01"], allowed_badges=["N-1"])
    assert (fridge.cold_bins, CabinetRules(ward="icu", refrigerated=True).cold_bins, WARD_3A.cold_bins) == (
        ["F-01"],
        None,  # every bin
        [],
    )
    assert (fridge.allows("N-1"), fridge.allows("N-2"), fridge.allows(None), WARD_3A.allows("anyone")) == (
        True,
        False,
        False,
        True,
    )


@pytest.mark.parametrize("scenario", available())
@pytest.mark.parametrize("seed", [1, 2, 424242])  # `wardlink demo` draws a new seed per run
def test_the_shipped_par_levels_match_the_simulated_cabinets_stock_whatever_the_seed(scenario: str, seed: int) -> None:
    """Each simulated cabinet's par max is the sum of its bins' par for the GTIN; it starts at or above its minimum."""
    rules = default_rules()
    hospital = Hospital(load_scenario(scenario).model_copy(update={"seed": seed}), "mqtt://127.0.0.1:1")  # not started
    assert hospital.cabinets
    for cabinet, simulator in hospital.cabinets.items():
        par: dict[str, int] = defaultdict(int)
        held: dict[str, int] = defaultdict(int)
        for bin_stock in simulator.stock.values():
            par[bin_stock.gtin] += bin_stock.par
            held[bin_stock.gtin] += bin_stock.quantity
        configured = rules.cabinets[cabinet]
        assert {gtin: level.max for gtin, level in configured.par.items()} == par
        assert all(level.min == level.max // 2 <= held[gtin] for gtin, level in configured.par.items())
        assert configured.ward == hospital.cabinet_ward[cabinet]
        assert configured.refrigerated
        fridge = {b.bin for b in simulator.stock.values() if b.bin.startswith("F")}
        assert fridge == set(configured.refrigerated_bins or [])
    assert rules.deliveries.target_minutes == {"stat": 30, "routine": 120}


def test_a_cabinets_stock_follows_its_stock_seed_and_its_traffic_the_scenario_seed() -> None:
    demo = load_scenario("demo")
    one, other = (Hospital(demo.model_copy(update={"seed": s}), "mqtt://127.0.0.1:1") for s in (1, 2))
    assert one.cabinets["cabinet-1"].stock == other.cabinets["cabinet-1"].stock
    assert one.cabinets["cabinet-1"].stock != one.cabinets["cabinet-2"].stock
    assert one.cabinets["cabinet-1"].nurses != other.cabinets["cabinet-1"].nurses


async def test_below_par_reads_the_projected_stock_of_every_inventoried_cabinet(store: Stores) -> None:
    n = Seq()
    store.rules.current = default_rules().model_copy(update={"cabinets": {"cabinet-1": WARD_3A, "cabinet-3": WARD_3A}})
    await store.events.commit_batch(
        [
            cabinet_event(
                "cabinet.inventory_reported",
                "cabinet-1",
                0,
                n(),
                bins=[item("D1-01", PARACETAMOL, 12), item("D1-02", IBUPROFEN, 8), item("F-01", INSULIN, 4)],
            ),
            cabinet_event("cabinet.item_removed", "cabinet-1", 5, n(), **item("D1-01", PARACETAMOL, 3)),
            cabinet_event("cabinet.inventory_reported", "cabinet-2", 0, n(), bins=[item("D1-01", PARACETAMOL, 0)]),
            # Never inventoried: what it holds is unknown, so nothing is picked for it (not "everything").
            cabinet_event("cabinet.item_removed", "cabinet-3", 5, n(), **item("D1-01", PARACETAMOL, 1)),
        ]
    )
    async with store.db.engine.connect() as connection:
        picks = await below_par(connection, store.rules.current)
        none_on_icu = await below_par(connection, store.rules.current, ward="icu")
    assert [(p.cabinet, p.gtin, p.on_hand, p.quantity) for p in picks] == [("cabinet-1", PARACETAMOL, 9, 21)]
    assert none_on_icu == []
