"""`wardlink demo --secure`: the demo on the production broker profile, the same accounts and ACLs as production.

`wardlink security init`'s generator writes the profile for the demo's edge into `DATA/secure-mqtt` (new passwords
every run, like the demo's users). The broker is the real Mosquitto with the generated `mosquitto.conf` (TLS on a
free loopback port) when it is installed, else the embedded amqtt with the same password file and grants
(`wardlink.broker_secure`). Each component connects with its own account.
"""

import asyncio
import contextlib
import getpass
import logging
import shutil
from pathlib import Path
from types import TracebackType

from contract.topics import DEFAULT_ROOT
from wardlink.broker import EmbeddedBroker, SecureAccounts
from wardlink.net import free_port, port_open
from wardlink.security.accounts import EdgeSpec
from wardlink.security.bundle import Generated, SecurityPlan, generate, read_env_file

log = logging.getLogger(__name__)


def mosquitto_binary() -> str | None:
    """The installed Mosquitto (on PATH, or Debian's /usr/sbin, which a non-root PATH lacks); None without one."""
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)


class SecureDemoBroker:
    """`async with SecureDemoBroker(folder, edges) as broker:` then `broker.url_for("gateway-1")` per component."""

    def __init__(
        self, folder: Path, edges: list[EdgeSpec], *, root: str = DEFAULT_ROOT, mosquitto: str | None = None
    ) -> None:
        """`mosquitto`: the broker binary ('' for the embedded amqtt; None: Mosquitto when installed)."""
        self.folder = folder
        self.edges = edges
        self.root = root
        self.binary = mosquitto_binary() if mosquitto is None else mosquitto or None
        self.generated: Generated | None = None
        self.port: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._embedded: EmbeddedBroker | None = None

    @property
    def kind(self) -> str:
        return "Mosquitto, TLS" if self.binary else "embedded amqtt"

    def url_for(self, username: str) -> str:
        """The broker URL of one account, with its password: for the component in this process, never printed."""
        assert self.generated is not None, "start the broker first"
        env = read_env_file(self.generated.env_files[username])
        url = env["WARDLINK_MQTT_URL"]
        if self.binary:
            return f"{url}&ca_file={env['WARDLINK_MQTT_CA_FILE']}"
        _scheme, rest = url.split("://", 1)  # the embedded broker's listener is plain TCP on loopback
        return f"mqtt://{rest}"

    @property
    def display_url(self) -> str:
        """Where it listens, without credentials."""
        return f"{'mqtts' if self.binary else 'mqtt'}://127.0.0.1:{self.port}  (secure: {self.kind})"

    async def start(self) -> None:
        self.port = free_port() if self.binary else None
        plan = SecurityPlan(
            edges=self.edges,
            root=self.root,
            hosts=["127.0.0.1"],
            port=self.port or 0,
            bind_address="127.0.0.1",
            broker_user=getpass.getuser(),  # Mosquitto started as root would switch to `mosquitto`, who cannot read
        )
        self.generated = await asyncio.to_thread(generate, self.folder, plan, force=True)
        if self.binary is None:
            secure = SecureAccounts(self.generated.accounts, self.generated.broker_dir / "passwd")
            self._embedded = EmbeddedBroker(secure=secure)
            await self._embedded.start()
            self.port = self._embedded.port
            # The env files name the port the plan had (none yet): rewrite them with the bound one.
            self._rewrite_ports()
            return
        log_file = self.folder / "mosquitto.log"
        with log_file.open("ab") as sink:
            self._process = await asyncio.create_subprocess_exec(
                self.binary,
                "-c",
                str(self.generated.mosquitto_conf),
                stdout=sink,
                stderr=sink,
                start_new_session=True,  # Ctrl-C stops the demo's components first; `stop` ends the broker last
            )
        assert self.port is not None
        for _ in range(200):
            if await asyncio.to_thread(port_open, "127.0.0.1", self.port):
                log.info("secure broker (Mosquitto) on 127.0.0.1:%d, log %s", self.port, log_file)
                return
            if self._process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await self.stop()
        raise RuntimeError(f"Mosquitto did not start on 127.0.0.1:{self.port}; see {log_file}")

    def _rewrite_ports(self) -> None:
        assert self.generated is not None
        for path in set(self.generated.env_files.values()):
            text = path.read_text().replace("@127.0.0.1:0?", f"@127.0.0.1:{self.port}?")
            path.write_text(text)

    async def stop(self) -> None:
        if self._embedded is not None:
            await self._embedded.stop()
            self._embedded = None
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()
        self._process = None

    async def __aenter__(self) -> "SecureDemoBroker":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
