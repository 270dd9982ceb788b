"""The tables of HL7 v2 in (migration 0009, `gateway.clinical.hl7`) and out (0010, `gateway.clinical.hl7_outbound`;
docs/integration.md), on the same `metadata` as `gateway.storage.tables` (kept apart to keep modules small)."""

import sqlalchemy as sa

from gateway.storage.tables import UtcDateTime, metadata

# Every message handled, by sending application and control id (MSH-10): a message sent again is answered as before
# and stores nothing new. Never the message itself.
hl7_messages = sa.Table(
    "hl7_messages",
    metadata,
    sa.Column("sender", sa.String(200), primary_key=True),
    sa.Column("control_id", sa.String(200), primary_key=True),
    sa.Column("message_type", sa.String(16), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("ack_code", sa.String(2), nullable=False),
    sa.Column("event_ids", sa.JSON(), nullable=False),
    sa.Index("ix_hl7_messages_received_at", "received_at"),
)

# What the laboratory system said about a specimen that is not (yet) an event: an order waiting for its collection
# time, a container state other than received, a preliminary result. Ids only.
hl7_orders = sa.Table(
    "hl7_orders",
    metadata,
    sa.Column("barcode", sa.String(64), primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("sender", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("priority", sa.String(8), nullable=True),
    sa.Column("category", sa.String(64), nullable=True),
    sa.Column("ward", sa.String(64), nullable=True),
    sa.Column("collector", sa.String(64), nullable=True),
    sa.Column("collected_at", UtcDateTime(), nullable=True),
    sa.Column("container_status", sa.String(8), nullable=True),
    sa.Column("container_status_at", UtcDateTime(), nullable=True),
    sa.Column("result_status", sa.String(8), nullable=True),
    sa.Column("result_status_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_hl7_orders_status_updated", "status", "updated_at"),
)

# HL7 messages that could not be processed (answered AE or AR, or an internal error), with the reason and the
# message redacted to the segments and fields the mapping reads (`gateway.clinical.hl7.redaction`).
clinical_dead_letters = sa.Table(
    "clinical_dead_letters",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("sender", sa.String(200), nullable=True),
    sa.Column("control_id", sa.String(200), nullable=True),
    sa.Column("message_type", sa.String(16), nullable=True),
    sa.Column("ack_code", sa.String(2), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Index("ix_clinical_dead_letters_received_at", "received_at"),
)

# HL7 v2 out to the LIS (migration 0010, gateway/clinical/hl7_outbound): a message per told event, sent in `position`
# order until answered AA (`sent`); a refusal leaves it `failed`, `reason` holding the error code and place only
# (never the LIS's text, `gateway.clinical.hl7_outbound.answers`). Barcodes and ids only.
hl7_outbox = sa.Table(
    "hl7_outbox",
    metadata,
    sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("barcode", sa.String(64), nullable=False),
    sa.Column("control_id", sa.String(20), nullable=False, unique=True),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("answered_at", UtcDateTime(), nullable=True),
    sa.Column("answer", sa.String(2), nullable=True),
    sa.Column("reason", sa.String(400), nullable=True),
    sa.Index("ix_hl7_outbox_state_position", "state", "position"),
)

# The outbox's scan (one row): events received by `enabled_after` are history; `scanned_through`: the latest written.
hl7_outbox_cursor = sa.Table(
    "hl7_outbox_cursor",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("enabled_after", UtcDateTime(), nullable=True),
    sa.Column("scanned_through", UtcDateTime(), nullable=True),
)
