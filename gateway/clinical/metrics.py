"""Prometheus metrics of the HL7 v2 links: messages answered by type and ACK code, dead letters, and what the
outbound sender did. Registered by the service in the gateway's registry (`EventLatency.registry`) beside the
gateway's own, so `/metrics` shows them only when the links run."""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.clinical.hl7.inbound import Hl7Inbound
from gateway.clinical.hl7_outbound import Hl7OutboundSender


class Hl7Collector(Collector):
    def __init__(self, inbound: Hl7Inbound | None, outbound: Hl7OutboundSender | None) -> None:
        self._inbound = inbound
        self._outbound = outbound

    def collect(self) -> Iterator[Metric]:
        if self._inbound is not None:
            answered = CounterMetricFamily(
                "wardlink_hl7_messages",
                "HL7 v2 messages received over MLLP, by message type (`other`: unsupported) and ACK code.",
                labels=["message_type", "ack"],
            )
            for (message_type, code), count in sorted(self._inbound.answered.items()):
                answered.add_metric([message_type, code], count)
            yield answered
            yield CounterMetricFamily(
                "wardlink_hl7_dead_letters",
                "HL7 v2 messages kept as dead letters (answered AE or AR), patient segments redacted.",
                value=self._inbound.dead_letters,
            )
            yield CounterMetricFamily(
                "wardlink_hl7_unmapped_tests",
                "HL7 v2 specimens and results answered AA but not tracked: their test code is not in the mapping.",
                value=self._inbound.unmapped_tests,
            )
        if self._outbound is not None:
            told = CounterMetricFamily(
                "wardlink_hl7_outbound_messages",
                "SSU^U03 messages to the LIS by outcome: sent (AA), refused (AE/AR, kept as failed), retried.",
                labels=["outcome"],
            )
            done = self._outbound.counters
            for outcome, count in (("sent", done.sent), ("refused", done.refused), ("retried", done.retries)):
                told.add_metric([outcome], count)
            yield told
