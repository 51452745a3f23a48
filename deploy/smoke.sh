#!/usr/bin/env bash
# The stack of deploy/compose.yaml as local processes — no container engine needed: a database on the
# machine's PostgreSQL, Mosquitto with dynamic security (deploy/mosquitto/stack.conf), a 3-node NATS
# JetStream cluster (the compose flags), every Pulse role as its own process with the compose services'
# commands and variables (deploy/.env.example, secrets generated), and Caddy with deploy/Caddyfile as
# the one HTTPS origin. Then one round trip through it (deploy/smoke-round-trip.mjs): a device registered
# and activated through Caddy, logging in to Mosquitto over WebSocket through Caddy, going silent, and its
# NO_HEARTBEAT alert arriving at an HTTPS webhook. Exit status 0 when it arrived.
#   bash deploy/smoke.sh            (from the checkout, after `npm install`)
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=$(mktemp -d /tmp/pulse-smoke.XXXXXX)
chmod 777 "$WORK" # Mosquitto drops to its own user and writes its files here
DB="pulse_test_smoke_$$"
PIDS=()
cleanup() {
  status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    for log in "$WORK"/*.log; do echo "--- $log (last lines)"; tail -n 20 "$log"; done
  fi
  psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
wait_port() {
  for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.2
  done
  echo "smoke: nothing listens on 127.0.0.1:$1 ($2)" >&2
  return 1
}
start() { # name, command…
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

# The variables the compose file reads, with fresh secrets instead of the example's change-me values.
set -a
# shellcheck source=/dev/null
source deploy/.env.example
ADMIN_KEY=$(openssl rand -hex 24)
SECRETS_KEY=$(openssl rand -hex 32)
MQTT_ADMIN_PASSWORD=$(openssl rand -hex 16)
set +a

# PostgreSQL: a database of its own on the machine's server.
psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE $DB" >/dev/null

# Mosquitto: the stack's configuration with this machine's plugin path, this run's files and ports.
MQTT_PORT=$(free_port)
MQTT_WS_PORT=$(free_port)
mkdir -m 777 "$WORK/mosquitto"
mosquitto_ctrl dynsec init "$WORK/mosquitto/dynamic-security.json" admin "$MQTT_ADMIN_PASSWORD" >/dev/null
chmod 666 "$WORK/mosquitto/dynamic-security.json"
sed -e "s|^plugin /usr/lib/mosquitto_dynamic_security.so|plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so|" \
  -e "s|/mosquitto/data/|$WORK/mosquitto/|" \
  -e "s|^listener 1883$|listener $MQTT_PORT 127.0.0.1|" \
  -e "s|^listener 9001$|listener $MQTT_WS_PORT 127.0.0.1|" \
  deploy/mosquitto/stack.conf >"$WORK/mosquitto.conf"
start mosquitto mosquitto -c "$WORK/mosquitto.conf"
wait_port "$MQTT_PORT" mosquitto

# NATS: three JetStream nodes in one cluster, as nats-1..3 of the compose file.
NATS_CLIENT=() NATS_ROUTE=()
for i in 1 2 3; do NATS_CLIENT+=("$(free_port)") NATS_ROUTE+=("$(free_port)"); done
for i in 0 1 2; do
  routes=()
  for j in 0 1 2; do [ "$j" != "$i" ] && routes+=("nats://127.0.0.1:${NATS_ROUTE[$j]}"); done
  start "nats-$((i + 1))" nats-server -js -sd "$WORK/nats-$((i + 1))" -n "nats-$((i + 1))" -a 127.0.0.1 -p "${NATS_CLIENT[$i]}" \
    --cluster_name pulse --cluster "nats://127.0.0.1:${NATS_ROUTE[$i]}" --routes "$(IFS=,; echo "${routes[*]}")"
done
for i in 0 1 2; do wait_port "${NATS_CLIENT[$i]}" "nats-$((i + 1))"; done

# Pulse: the compose services' variables, pointed at this run's addresses.
HTTPS_PORT=$(free_port)
export MODE=PROD LOG_LEVEL=info HOST=127.0.0.1
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export MQTT_URL="mqtt://admin:$MQTT_ADMIN_PASSWORD@127.0.0.1:$MQTT_PORT" MQTT_BROKER_AUTH=dynsec
export NATS_URL="nats://127.0.0.1:${NATS_CLIENT[0]},nats://127.0.0.1:${NATS_CLIENT[1]},nats://127.0.0.1:${NATS_CLIENT[2]}"
export PUBLIC_URL="https://localhost:$HTTPS_PORT" TRUST_PROXY=127.0.0.1
# The round trip's own: a short heartbeat timeout, and its HTTPS webhook on loopback (PROD delivers to
# https:// only) with a certificate of its own that the processes trust.
export HEARTBEAT_STALE_SECONDS=3 SSRF_ALLOWLIST=127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/webhook.key" -out "$WORK/webhook.crt" 2>/dev/null
export NODE_EXTRA_CA_CERTS="$WORK/webhook.crt"

node bin/pulse.js migrate >"$WORK/migrate.log" 2>&1
declare -A ROLE_PORT
for role in provision api ingest evaluator dispatcher delivery; do
  ROLE_PORT[$role]=$(free_port)
  start "$role" env PORT="${ROLE_PORT[$role]}" PULSE_DATA_DIR="$WORK/data-$role" node bin/pulse.js run "$role"
  wait_port "${ROLE_PORT[$role]}" "pulse run $role"
done

# Caddy: deploy/Caddyfile with the upstreams on loopback and Caddy's own CA for localhost.
CADDY_ADMIN_PORT=$(free_port)
start caddy env XDG_DATA_HOME="$WORK/caddy-data" XDG_CONFIG_HOME="$WORK/caddy-config" \
  CADDY_HTTP_PORT="$(free_port)" CADDY_HTTPS_PORT="$HTTPS_PORT" CADDY_ADMIN="127.0.0.1:$CADDY_ADMIN_PORT" \
  PULSE_DOMAIN=localhost PULSE_TLS=internal \
  PROVISION_UPSTREAM="127.0.0.1:${ROLE_PORT[provision]}" INGEST_UPSTREAMS="127.0.0.1:${ROLE_PORT[ingest]}" \
  API_UPSTREAMS="127.0.0.1:${ROLE_PORT[api]}" MQTT_WS_UPSTREAM="127.0.0.1:$MQTT_WS_PORT" \
  caddy run --config deploy/Caddyfile --adapter caddyfile
wait_port "$HTTPS_PORT" caddy

ORIGIN="https://localhost:$HTTPS_PORT" CADDY_ROOT_CA="$WORK/caddy-data/caddy/pki/authorities/local/root.crt" \
  WORK="$WORK" node deploy/smoke-round-trip.mjs
