"""The problems a profile or site file can have, each naming the file, the field and the reason."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ProfileProblem:
    """One thing wrong with one file: `file: field: reason`."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class ProfileError(Exception):
    """Profile or site files that do not validate; `problems` holds every problem found, not just the first."""

    def __init__(self, problems: list[ProfileProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class CodecError(ValueError):
    """Registers that do not decode into a resource's value, or a value that does not fit its registers."""


class RecordError(ValueError):
    """A mailbox record that cannot become an event (for example a scanned record without a usable barcode).

    `seq` is the record's sequence number, so the edge can set the record aside and acknowledge it.
    """

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message)
        self.seq = seq
