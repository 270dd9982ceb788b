"""HL7 v2 out to the LIS: SSU^U03 container status when a specimen reached the lab and when it was sorted.

Optional: on when `WARDLINK_HL7_OUTBOUND_URL` (`mllp://host:port`) is set. A durable outbox (`outbox`) is filled
from stored events and sent in order over MLLP (`link`) until the LIS answers (`sender`), whose answers are read
as codes only (`answers`); the messages (`messages`) carry barcodes, devices and places, never a patient.
docs/integration.md#hl7-v2-out-to-the-lis has the fields.
"""

from gateway.clinical.hl7_outbound.link import MllpAddress
from gateway.clinical.hl7_outbound.outbox import Hl7Outbox, OutboxRow
from gateway.clinical.hl7_outbound.sender import Hl7OutboundSender, OutboundCounters

__all__ = ["Hl7OutboundSender", "Hl7Outbox", "MllpAddress", "OutboundCounters", "OutboxRow"]
