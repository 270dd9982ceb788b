"""The garbage collector of a long-running gateway or projector process: no full collection stalls the event loop.

CPython's cyclic collector walks every tracked object in a full (generation 2) collection. A gateway under load
holds a few hundred thousand long-lived objects (modules, SQLAlchemy's and pydantic's machinery, the histories the
projector holds, the events waiting to be projected), and a full collection took 130-165 ms at 1,000 events/s: three
in a 10-second run, and every ack and every live frame behind them waited (they set the p99 latency). Nearly all
of the gateway's garbage is freed by reference counting, not by the collector. So, once the process has started:

- `gc.freeze()` moves everything start-up built out of the collector's sight (it is never garbage);
- the youngest generation is collected every `YOUNG` allocations instead of every 700, and a full collection
  needs ten times as many collections of the middle one: the collector still runs, rarely.
"""

import gc

YOUNG = 20_000
"""Allocations (less deallocations) between two collections of the youngest generation (CPython's default: 700)."""


def settle_collector() -> None:
    """Call once the process has started (migrated, subscribed, listening)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old * 10)
