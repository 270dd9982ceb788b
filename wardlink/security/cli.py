"""`wardlink security init`: generate the secure MQTT profile (CA, broker files, credentials per component)."""

import argparse
import sys
from pathlib import Path, PurePosixPath

from contract.topics import DEFAULT_ROOT


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `security init` on the `wardlink` command line."""
    security = sub.add_parser("security", help="secure MQTT profile").add_subparsers(dest="action", required=True)
    init = security.add_parser(
        "init",
        help="development CA, broker certificate, Mosquitto password/ACL/conf files, an env file per component",
        description="Passwords are written to the 0600 env files only, never printed.",
    )
    init.add_argument("--out", type=Path, required=True, help="folder to write into")
    init.add_argument("--site", help="site id of the --edge edges")
    init.add_argument("--edge", action="append", default=[], help="edge id (repeat for several edges of --site)")
    init.add_argument(
        "--site-file",
        type=Path,
        action="append",
        default=[],
        help="a site instance file: its edge and every MQTT device on the edge's broker (repeatable)",
    )
    init.add_argument("--profiles", type=Path, help="profiles folder for --site-file (default: the packaged ones)")
    init.add_argument("--gateway", type=int, default=1, metavar="N", help="number of gateway replicas (default 1)")
    init.add_argument("--topic-root", default=DEFAULT_ROOT)
    init.add_argument(
        "--host",
        action="append",
        default=[],
        help="broker name or address in its certificate (repeatable; clients use the first; "
        "default: localhost and 127.0.0.1)",
    )
    init.add_argument("--port", type=int, default=8883, help="TLS listener port (default 8883)")
    init.add_argument("--bind", help="listener address (default: every interface)")
    init.add_argument(
        "--client-certs", action="store_true", help="also issue client certificates and make the broker require them"
    )
    init.add_argument("--broker-dir", help="the broker folder as the broker sees it, e.g. /mosquitto/config")
    init.add_argument("--persistence-dir", help="broker persistence folder, e.g. /mosquitto/data (default: none)")
    init.add_argument(
        "--broker-user", help="user a broker started as root switches to (default: Mosquitto's own, mosquitto)"
    )
    init.add_argument("--ca-path", help="the CA file as the components see it, in their env files (default: OUT/ca)")
    init.add_argument("--force", action="store_true", help="replace an existing CA and every credential")
    init.set_defaults(run=_init)


def _init(args: argparse.Namespace) -> int:
    from device_profiles import PROFILES_DIR, ProfileError, load_site
    from wardlink.security.accounts import EdgeSpec
    from wardlink.security.bundle import AlreadyInitialisedError, SecurityPlan, generate

    if args.edge and not args.site:
        print("--edge needs --site", file=sys.stderr)
        return 2
    try:
        edges = [EdgeSpec(site=args.site, edge=edge) for edge in args.edge]
        for path in args.site_file:
            site, profiles = load_site(path, args.profiles or PROFILES_DIR)
            edges.append(EdgeSpec.from_site(site, profiles))
    except (ProfileError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    if not edges:
        print("name at least one edge: --site SITE --edge EDGE, or --site-file FILE", file=sys.stderr)
        return 2
    plan = SecurityPlan(
        edges=edges,
        gateways=args.gateway,
        root=args.topic_root,
        hosts=args.host or ["localhost", "127.0.0.1"],
        port=args.port,
        bind_address=args.bind,
        client_certificates=args.client_certs,
        broker_dir=PurePosixPath(args.broker_dir) if args.broker_dir else None,
        persistence_dir=PurePosixPath(args.persistence_dir) if args.persistence_dir else None,
        broker_user=args.broker_user,
        client_ca_path=args.ca_path,
    )
    try:
        generated = generate(args.out, plan, force=args.force)
    except (AlreadyInitialisedError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"secure MQTT profile in {generated.out}")
    print(f"  CA certificate   {generated.ca_certificate}   (ca.key beside it: keep it offline)")
    print(f"  broker files     {generated.broker_dir}/  mosquitto.conf ca.crt server.crt server.key passwd acl")
    print("  accounts (credentials in each env file, mode 0600):")
    for account in generated.accounts:
        owner = account.password_of
        env = f"(link of {owner}, its password)" if owner else generated.env_files[account.username]
        print(f"    {account.role:<8} {account.username:<48} {len(account.grants):>2} grants  {env}")
    print(f"run the broker:  mosquitto -c {generated.mosquitto_conf}")
    return 0
