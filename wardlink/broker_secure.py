"""The embedded broker's secure mode (`wardlink demo --secure` without Mosquitto): the secure profile on amqtt.

The same account table as Mosquitto's (`wardlink.security.accounts`), the same password file (Mosquitto's `$7$`
PBKDF2 hashes, checked by `MosquittoPasswdAuthPlugin`), the same topic grants (`GrantsPlugin`: publish, subscribe
and receive), and client ids bound to user names as `use_username_as_clientid` does (`SecureBroker`).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amqtt.errors import AMQTTError, MQTTError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.plugins.topic_checking import TopicAccessControlListPlugin
from amqtt.session import Session
from amqtt.utils import gen_client_id

from wardlink.amqtt_broker import PatchedBroker
from wardlink.security.accounts import Account
from wardlink.security.mosquitto_files import password_matches

AUTH_PLUGIN = f"{__name__}.MosquittoPasswdAuthPlugin"
TOPIC_PLUGIN = f"{__name__}.GrantsPlugin"


class MosquittoPasswdAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt has no type hints
    """A user name and its password from Mosquitto's password file; anonymous clients are refused."""

    @dataclass
    class Config:
        password_file: str = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        lines = Path(self.context.config.password_file).read_text().splitlines()
        self._hashes = dict(line.split(":", 1) for line in lines if line and not line.startswith("#"))

    async def authenticate(self, *, session: Session) -> bool:
        hashed = self._hashes.get(session.username or "")
        return hashed is not None and password_matches(hashed, session.password or "")


class GrantsPlugin(TopicAccessControlListPlugin):  # type: ignore[misc]
    """amqtt's ACL plugin with the receive check on too (a message is delivered only where the user may read)."""

    @dataclass
    class Config:
        publish_acl: dict[str, list[str]] = field(default_factory=dict)
        subscribe_acl: dict[str, list[str]] = field(default_factory=dict)
        receive_acl: dict[str, list[str]] = field(default_factory=dict)


def plugins_config(accounts: list[Account], password_file: Path) -> dict[str, Any]:
    """amqtt's `plugins` section for `accounts`: what Mosquitto's passwd and acl files say, for amqtt."""
    writes = {a.username: [g.topic for g in a.grants if g.access in ("write", "readwrite")] for a in accounts}
    reads = {a.username: [g.topic for g in a.grants if g.access in ("read", "readwrite")] for a in accounts}
    return {
        AUTH_PLUGIN: {"password_file": str(password_file)},
        TOPIC_PLUGIN: {"publish_acl": writes, "subscribe_acl": reads, "receive_acl": reads},
    }


class SecureBroker(PatchedBroker):
    """Client ids are user names (Mosquitto's `use_username_as_clientid`): a client can only ever take over a
    session of its own user. amqtt looks up (and, for a clean session, deletes) the session of the client's own id
    before it authenticates, so the id is replaced as the CONNECT is read, before any of that."""

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        except (AMQTTError, MQTTError) as exc:
            self.logger.warning(f"{remote_address}:{remote_port}: not a valid CONNECT: {exc}")
            await writer.close()
            raise
        # A client that fails authentication gets a fresh id: it takes nothing over (not even the session of the
        # user it claims to be) before it is refused.
        authenticated = await self._authenticate(session, None)
        session.client_id = session.username if authenticated and session.username else gen_client_id()
        # From here on as amqtt 0.12's own `_initialize_client_session`.
        if session.clean_session:
            await self._delete_session(session.client_id)
            session.parent = 0
        elif session.client_id in self._sessions:
            existing, _ = self._sessions[session.client_id]
            for name in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive", "username", "password"):
                setattr(existing, name, getattr(session, name))
            session = existing
            session.parent = 1
        else:
            session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return handler, session
