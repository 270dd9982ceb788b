"""The chaos suite: the real processes (broker, gateway, edge, device) behind a TCP fault proxy, faults with seeded
timing, and the invariant checked after healing: every event the edge accepted is stored exactly once, no state
went backwards, no sequence gap stays open. `python -m tests.chaos --runs N --seed S`; see docs/reliability.md."""
