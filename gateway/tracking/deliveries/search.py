"""Searching deliveries as staff ask: by delivery or order id, ward, robot, medication name or status.

Names are read through the reference data: "amoxicillin" finds the deliveries carrying a GTIN whose formulary name
holds it, "Ward 4B" those for the ward of that name, a robot's name those it carries.
"""

from dataclasses import dataclass
from typing import get_args

import sqlalchemy as sa

from gateway.reference.model import ReferenceData
from gateway.storage.tables import deliveries
from gateway.tracking.deliveries.fold import DeliveryStatus


@dataclass(frozen=True, slots=True)
class DeliverySearch:
    """What a search box holds, and the ids whose names match it."""

    text: str
    gtins: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    robots: tuple[str, ...] = ()

    @classmethod
    def of(cls, text: str, reference: ReferenceData) -> "DeliverySearch":
        words = text.strip().casefold()

        def matching(names: dict[str, str]) -> tuple[str, ...]:
            return tuple(sorted(key for key, name in names.items() if words in name.casefold()))

        return cls(
            text=text.strip(),
            gtins=matching({g: f"{m.name} {m.strength or ''}" for g, m in reference.medications.items()}),
            places=matching({i: loc.name for i, loc in reference.locations.items()}),
            robots=matching({i: dev.name for i, dev in reference.devices.items()}),
        )

    def clause(self) -> sa.ColumnElement[bool]:
        c = deliveries.c
        text = self.text
        either: list[sa.ColumnElement[bool]] = [
            column.icontains(text, autoescape=True) for column in (c.delivery, c.order_id, c.ward, c.robot)
        ]
        either.append(c.destination.icontains(text, autoescape=True))
        status = text.casefold().replace(" ", "_")
        if status in get_args(DeliveryStatus):
            either.append(c.status == status)
        if self.places:
            either += [c.ward.in_(self.places), c.destination.in_(self.places)]
        if self.robots:
            either.append(c.robot.in_(self.robots))
        # A delivery's items are JSON lines ({"gtin": ..., "quantity": ...}); a GTIN is 14 digits, found as text.
        either += [sa.cast(c["items"], sa.Text).contains(f'"{gtin}"') for gtin in self.gtins]
        return sa.or_(*either)
