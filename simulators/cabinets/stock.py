"""What a simulated ward cabinet holds: bins stocked with GS1-identified items (GTIN, lot, expiry), badges.

GTINs are built on GS1's documentation company prefix (0614141), with valid check digits: realistic, and
never a real product. People are badge ids only.
"""

import random
import string
from dataclasses import dataclass, replace
from datetime import date, timedelta

GS1_EXAMPLE_PREFIX = "0614141"
"""The company prefix GS1 uses in its own examples: valid GTINs that name no real product."""

FORMULARY: tuple[tuple[str, str], ...] = (
    ("00101", "paracetamol 500 mg tablet"),
    ("00102", "ibuprofen 400 mg tablet"),
    ("00117", "ondansetron 4 mg orodispersible tablet"),
    ("00123", "metoclopramide 10 mg tablet"),
    ("00135", "enoxaparin 40 mg/0.4 ml syringe"),
    ("00142", "furosemide 20 mg/2 ml ampoule"),
    ("00158", "morphine 10 mg/1 ml ampoule"),
    ("00161", "oxycodone 5 mg capsule"),
    ("00176", "amoxicillin 500 mg capsule"),
    ("00189", "sodium chloride 0.9 % 10 ml ampoule"),
    ("00193", "insulin aspart 100 U/ml pen"),
    ("00204", "heparin 5000 IU/ml vial"),
)
REFRIGERATED = frozenset({"00193", "00204"})
"""Items kept in the fridge compartment (drawer F)."""


def gtin_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of the first 13 digits of a GTIN-14 (weights 3,1,3,... from the left)."""
    if len(digits) != 13 or not digits.isdigit():
        raise ValueError(f"a GTIN-14 body is 13 digits, got {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    return (10 - total % 10) % 10


def gtin14(item_reference: str, *, indicator: str = "0", company_prefix: str = GS1_EXAMPLE_PREFIX) -> str:
    """A GTIN-14: indicator + company prefix + item reference (12 digits together) + check digit."""
    body = indicator + company_prefix + item_reference
    return body + str(gtin_check_digit(body))


@dataclass(frozen=True, slots=True)
class BinStock:
    bin: str
    gtin: str
    lot: str
    expiry: date
    quantity: int
    par: int
    """The level the pharmacy restocks the bin to."""
    description: str = ""

    def with_quantity(self, quantity: int) -> "BinStock":
        return replace(self, quantity=quantity)


def lot_number(rng: random.Random) -> str:
    return (
        "L"
        + "".join(rng.choices(string.digits, k=2))
        + rng.choice("ABCDEFGHJK")
        + "".join(rng.choices(string.digits, k=3))
    )


def expiry_date(rng: random.Random, today: date) -> date:
    """An expiry 2-24 months ahead, at the end of a month as most packs print it."""
    ahead = today + timedelta(days=rng.randint(60, 730))
    next_month = ahead.replace(day=28) + timedelta(days=4)
    return next_month - timedelta(days=next_month.day)


def bin_ids(drawers: int = 4, bins_per_drawer: int = 10) -> list[str]:
    """D1-01 ... D4-10 for the room-temperature drawers, then F-01 ... F-04 in the fridge."""
    ids = [f"D{d}-{b:02d}" for d in range(1, drawers + 1) for b in range(1, bins_per_drawer + 1)]
    return ids + [f"F-{b:02d}" for b in range(1, 5)]


def stock_cabinet(
    rng: random.Random, today: date, *, drawers: int = 4, bins_per_drawer: int = 10
) -> dict[str, BinStock]:
    """Every bin stocked to par with one lot of one formulary item; fridge bins hold the refrigerated ones."""
    room = [item for item in FORMULARY if item[0] not in REFRIGERATED]
    cold = [item for item in FORMULARY if item[0] in REFRIGERATED]
    stock = {}
    for bin_id in bin_ids(drawers, bins_per_drawer):
        reference, description = rng.choice(cold if bin_id.startswith("F") else room)
        par = rng.choice((10, 20, 30))
        stock[bin_id] = BinStock(
            bin=bin_id,
            gtin=gtin14(reference),
            lot=lot_number(rng),
            expiry=expiry_date(rng, today),
            quantity=par - rng.randint(0, par // 3),
            par=par,
            description=description,
        )
    return stock


NURSE_BADGES = range(10_000, 10_400)
"""Numbers of the nurse badges cabinets enrol (N-10000 ...): a roster the demo's reference data names in full."""
PHARMACY_BADGES = range(1000, 1040)
"""Numbers of the pharmacy technician badges cabinets enrol (P-1000 ...)."""


def on_roster(drawn: list[int], roster: range) -> list[int]:
    """Distinct roster numbers for numbers drawn from a wider range (the draws stay what they always were, so a
    seeded cabinet makes the same choices after them)."""
    chosen: list[int] = []
    for number in drawn:
        index = number % len(roster)
        while roster[index] in chosen:
            index = (index + 1) % len(roster)
        chosen.append(roster[index])
    return chosen


def badges(rng: random.Random, nurses: int = 12, pharmacy: int = 2) -> tuple[list[str], list[str]]:
    """Enrolled badge ids: nurses (N-xxxxx) and pharmacy technicians (P-xxxx) from their rosters; never a name."""
    nurse_badges = [f"N-{n}" for n in on_roster(rng.sample(range(10_000, 99_999), nurses), NURSE_BADGES)]
    pharmacy_badges = [f"P-{n}" for n in on_roster(rng.sample(range(1000, 9999), pharmacy), PHARMACY_BADGES)]
    return nurse_badges, pharmacy_badges
