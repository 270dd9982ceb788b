"""What the gateway republishes when it rejects a payload: nothing is lost, and the reason travels with it."""

import base64
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str
    topic: str
    received_at: AwareDatetime
    payload: str
    payload_encoding: Literal["utf-8", "base64"]

    @classmethod
    def of(cls, *, reason: str, topic: str, payload: bytes, received_at: AwareDatetime) -> "DeadLetter":
        try:
            return cls(
                reason=reason,
                topic=topic,
                received_at=received_at,
                payload=payload.decode("utf-8"),
                payload_encoding="utf-8",
            )
        except UnicodeDecodeError:
            return cls(
                reason=reason,
                topic=topic,
                received_at=received_at,
                payload=base64.b64encode(payload).decode("ascii"),
                payload_encoding="base64",
            )

    def original(self) -> bytes:
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")
