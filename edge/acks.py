"""Which acknowledgements the edge believes: an ack removes events from the outbox, so a wrong one loses them.

The gateway acks only what it committed, and it can only have committed what the edge sent. So an ack whose
`epoch` is not this outbox's, or whose `committed_through` or `missing` ranges reach past the highest seq this
outbox ever handed to the broker (`Outbox.sent_through`), is not from a gateway that saw our events: a forged
message, a confused peer, or a gateway's tracker from an outbox that was lost. Its claims about seqs are refused
(nothing removed by `committed_through`, nothing made due by `missing`) and it is counted. The ids it names are
still taken, as from any ack: the outbox removes an id only at or below `sent_through`, and an id is known only to
whoever saw the event, so refusing them would protect nothing and would slow the recovery after a crash (an edge
killed between publishing and recording it sees the gateway's `committed_through` ahead of its own record until
its resends catch up).
"""

from contract import Ack


def refusal(ack: Ack, *, epoch: str, sent_through: int) -> str | None:
    """Why the edge must not act on `ack`, or None when it may."""
    if ack.epoch is not None and ack.epoch != epoch:
        return f"it names outbox epoch {ack.epoch!r}, this outbox is {epoch!r}"
    if ack.committed_through is not None and ack.committed_through > sent_through:
        return f"it says committed through seq {ack.committed_through}, but the highest seq sent is {sent_through}"
    beyond = [(low, high) for low, high in ack.missing if high > sent_through]
    if beyond:
        return f"it asks again for seq {beyond[0][0]}-{beyond[0][1]}, past the highest seq sent ({sent_through})"
    return None
