"""What is wrong with an import: every problem names the file, the row or entry, the field and the reason.

An import is all or nothing: the readers collect every problem in every file and raise them together, so a
hospital fixes its export once instead of one error per attempt.
"""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImportProblem:
    file: str
    field: str
    reason: str
    row: int | None = None
    """The CSV line number (the header is line 1)."""
    entry: int | None = None
    """The index of the Bundle entry (from 0, as FHIRPath counts `Bundle.entry`)."""

    @property
    def where(self) -> str:
        if self.row is not None:
            return f"row {self.row}"
        if self.entry is not None:
            return f"entry {self.entry}"
        return "(file)"

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.field}: {self.reason}"

    def as_dict(self) -> dict[str, str | int | None]:
        return {"file": self.file, "row": self.row, "entry": self.entry, "field": self.field, "reason": self.reason}


class ReferenceImportError(ValueError):
    """An import that stored nothing, with every problem found."""

    def __init__(self, problems: Iterable[ImportProblem]) -> None:
        self.problems = list(problems)
        files = sorted({p.file for p in self.problems})
        super().__init__(f"{len(self.problems)} problem(s) in {', '.join(files)}; nothing was imported")
