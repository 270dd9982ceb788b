"""The alerts list's order (most severe first) is read from an index built on a copy of the rules' severity ranks."""

from gateway.rules.alerting import SEVERITY_RANK
from gateway.storage.tables import ALERT_SEVERITY_RANK


def test_the_indexed_severity_ranks_are_the_rules_ranks() -> None:
    # A new severity or rank needs a migration that rebuilds ix_alerts_rank_raised, and this copy changed with it.
    assert ALERT_SEVERITY_RANK == SEVERITY_RANK
