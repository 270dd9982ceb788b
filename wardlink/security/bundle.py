"""Everything the secure MQTT profile needs, written to one folder: CA, broker files, one env file per component.

```
OUT/ca/ca.crt, ca.key                    the development CA (keep ca.key offline once done)
OUT/broker/                              mount as the broker's config folder
    mosquitto.conf, ca.crt, server.crt, server.key, passwd, acl
OUT/clients/NAME/client.crt, client.key  per component (with client certificates)
OUT/env/NAME.env                         WARDLINK_MQTT_URL with user and password, and the CA file
```
Secrets (keys, passwd, env files) are 0600. Passwords go to the env files only: never printed, never logged.
A `.gitignore` of `*` keeps the folder out of git.
"""

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from contract.topics import DEFAULT_ROOT
from wardlink.security.accounts import Account, EdgeSpec, accounts
from wardlink.security.ca import DevelopmentCA, write_private, write_public
from wardlink.security.mosquitto_files import (
    ListenerConfig,
    acl_file,
    generate_password,
    mosquitto_conf,
    password_file,
)


class AlreadyInitialisedError(FileExistsError):
    """The folder already holds a CA: replacing it would change every credential."""


@dataclass(frozen=True)
class SecurityPlan:
    """What to generate: the deployment's edges and gateways, and how clients reach the broker."""

    edges: list[EdgeSpec]
    gateways: int = 1
    root: str = DEFAULT_ROOT
    hosts: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1"])
    """Names and addresses in the server certificate; clients' URLs use the first."""
    port: int = 8883
    bind_address: str | None = None
    client_certificates: bool = False
    """Also issue a client certificate per component and make the broker require one."""
    broker_dir: PurePosixPath | None = None
    """The broker folder as the broker sees it (e.g. /mosquitto/config in a container); None: where it is written."""
    persistence_dir: PurePosixPath | None = None
    broker_user: str | None = None
    """`user` in mosquitto.conf: whom a broker started as root runs as (it must be able to read passwd)."""
    client_ca_path: str | None = None
    """The CA file as the components see it (e.g. /run/secrets/wardlink-ca.crt); None: where it is written."""


@dataclass(frozen=True)
class Generated:
    """Where everything went; `env_files` maps an account's user name to its env file."""

    out: Path
    ca_certificate: Path
    broker_dir: Path
    mosquitto_conf: Path
    accounts: list[Account]
    env_files: dict[str, Path]
    """A link account maps to its owner's env file."""


def broker_url(username: str, password: str, host: str, port: int) -> str:
    """`mqtts://user:password@host:port?link_users=true` with both parts escaped (user names hold `/`).

    `link_users`: the broker takes user names as client ids, so a component's second connection logs in as
    `user/link` (`BrokerAddress.for_link`)."""
    netloc_host = f"[{host}]" if ":" in host else host
    return f"mqtts://{quote(username, safe='')}:{quote(password, safe='')}@{netloc_host}:{port}?link_users=true"


def generate(out: Path, plan: SecurityPlan, *, force: bool = False) -> Generated:
    """Write the CA, the broker's files and each component's credentials under `out`."""
    out = out.resolve()
    if (out / "ca" / "ca.key").exists() and not force:
        raise AlreadyInitialisedError(
            f"{out} already holds a CA; pass --force to replace it and every credential made with it"
        )
    everyone = accounts(plan.edges, plan.gateways, plan.root)
    out.mkdir(parents=True, exist_ok=True)
    # Generated inside a repository by mistake, the secrets still stay out of git.
    (out / ".gitignore").write_text("# secrets of the wardlink secure MQTT profile: never commit\n*\n")
    ca = DevelopmentCA.create()
    ca.issued.write(out / "ca" / "ca.crt", out / "ca" / "ca.key")

    broker = out / "broker"
    write_public(broker / "ca.crt", ca.issued.certificate_pem)
    ca.issue_server(plan.hosts).write(broker / "server.crt", broker / "server.key")
    passwords = {account.username: generate_password() for account in everyone if account.password_of is None}
    # A link account logs in with its owner's password (the owner's env file serves both connections).
    passwords.update({a.username: passwords[a.password_of] for a in everyone if a.password_of is not None})
    write_private(broker / "passwd", password_file(passwords).encode())
    write_public(broker / "acl", acl_file(everyone).encode())
    listener = ListenerConfig(
        config_dir=plan.broker_dir or PurePosixPath(broker.as_posix()),
        port=plan.port,
        bind_address=plan.bind_address,
        require_client_certificates=plan.client_certificates,
        persistence_dir=plan.persistence_dir,
        user=plan.broker_user,
    )
    conf = broker / "mosquitto.conf"
    write_public(conf, mosquitto_conf(listener).encode())

    env_files: dict[str, Path] = {}
    for account in everyone:
        if account.password_of is not None:
            env_files[account.username] = env_files[account.password_of]
            continue
        lines = [
            f"# wardlink secure MQTT profile: {account.role} {account.name}. Private: holds its broker password.",
            f"WARDLINK_MQTT_URL={broker_url(account.username, passwords[account.username], plan.hosts[0], plan.port)}",
            f"WARDLINK_MQTT_CA_FILE={plan.client_ca_path or out / 'ca' / 'ca.crt'}",
        ]
        if plan.client_certificates:
            folder = out / "clients" / account.name
            ca.issue_client(account.username).write(folder / "client.crt", folder / "client.key")
            lines += [
                f"WARDLINK_MQTT_CERT_FILE={folder / 'client.crt'}",
                f"WARDLINK_MQTT_KEY_FILE={folder / 'client.key'}",
            ]
        if plan.root != DEFAULT_ROOT:
            lines.append(f"WARDLINK_TOPIC_ROOT={plan.root}")
        env_files[account.username] = out / "env" / f"{account.name}.env"
        write_private(env_files[account.username], ("\n".join(lines) + "\n").encode())
    return Generated(
        out=out,
        ca_certificate=out / "ca" / "ca.crt",
        broker_dir=broker,
        mosquitto_conf=conf,
        accounts=everyone,
        env_files=env_files,
    )


def read_env_file(path: Path) -> dict[str, str]:
    """The `KEY=value` lines of an env file (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}
