"""What a sorter simulator is fed: tubes with a barcode and the outcome the sorter will give them."""

from dataclasses import dataclass
from typing import get_args

from contract.envelope import RejectReason
from contract.ids import check_identifier

REJECT_REASONS: tuple[str, ...] = get_args(RejectReason)
ERROR_LANE = 0


@dataclass(frozen=True)
class Sorted:
    """The sorter places the tube in an output lane, rack and position."""

    lane: int
    rack: int
    position: int

    def __post_init__(self) -> None:
        if self.lane < 1 or self.rack < 1 or self.position < 1:
            raise ValueError(f"sorted tubes go to lane, rack and position >= 1, not {self}")


@dataclass(frozen=True)
class Rejected:
    """The sorter sends the tube to an error lane; rack and position there are assigned by the sorter if None."""

    reason: str
    lane: int = ERROR_LANE
    rack: int | None = None
    position: int | None = None

    def __post_init__(self) -> None:
        if self.reason not in REJECT_REASONS:
            raise ValueError(f"reason {self.reason!r} is not one of {', '.join(REJECT_REASONS)}")
        if self.lane < 0:
            raise ValueError(f"lane must be >= 0, not {self.lane}")


@dataclass(frozen=True)
class Tube:
    """A specimen tube put on the sorter; barcodes only, never patient data."""

    barcode: str
    outcome: Sorted | Rejected
    input_rack: int | None = None
    input_position: int | None = None
    transit_s: float = 1.2
    """Device time between the scan and the sort."""

    def __post_init__(self) -> None:
        check_identifier(self.barcode, what="barcode")
        if self.transit_s < 0:
            raise ValueError("transit_s must be >= 0")

    @property
    def unreadable(self) -> bool:
        return isinstance(self.outcome, Rejected) and self.outcome.reason == "no_read"


class RackFiller:
    """Positions handed out in order per lane: 1..positions_per_rack, then the next rack."""

    def __init__(self, positions_per_rack: int = 50) -> None:
        self.positions_per_rack = positions_per_rack
        self._last: dict[int, tuple[int, int]] = {}

    def next(self, lane: int) -> tuple[int, int]:
        rack, position = self._last.get(lane, (1, 0))
        if position >= self.positions_per_rack:
            rack, position = rack + 1, 0
        self._last[lane] = (rack, position + 1)
        return self._last[lane]
