#!/bin/sh
# One-off before the first `docker compose up`: the secure MQTT profile for docker-compose.yml.
#
#   deploy/compose-init.sh            # writes deploy/secure-mqtt/ (never committed: it holds a .gitignore of *)
#   sudo chown 1883:1883 deploy/secure-mqtt/broker/passwd deploy/secure-mqtt/broker/server.key
#
# It runs `wardlink security init` (docs/security.md) for the compose site (device_profiles/sites/compose.yaml):
# a CA, the broker's certificate for the names `mosquitto` and `localhost`, Mosquitto's passwd/acl/conf with the
# paths as the container sees them, and one env file per component (two gateways, the edge, the robot, the
# cabinet). The compose file mounts deploy/secure-mqtt/broker into Mosquitto and reads the env files.
# Arguments are passed on, e.g. `--force` to replace the CA and every credential.
# WARDLINK (default: .venv/bin/wardlink, made by `make demo` or `make test`) and OUT may be overridden.
set -eu
cd "$(dirname "$0")/.."
WARDLINK="${WARDLINK:-.venv/bin/wardlink}"
OUT="${OUT:-deploy/secure-mqtt}"
$WARDLINK security init --out "$OUT" \
    --site-file device_profiles/sites/compose.yaml --gateway 2 \
    --host mosquitto --host localhost \
    --broker-dir /mosquitto/config --persistence-dir /mosquitto/data \
    --ca-path /run/wardlink/ca.crt "$@"
echo "next: sudo chown 1883:1883 $OUT/broker/passwd $OUT/broker/server.key   (Mosquitto's user in its image)"
