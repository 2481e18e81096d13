#!/usr/bin/env bash
# Load run: the release server on SQLite with the development issuer, measured from outside.
# Reports time from start to ready, idle memory, and throughput of an authenticated WhoAmI
# against an unauthenticated health check on the same server in the same run (h2load, from
# Debian's nghttp2-client). h2load counts HTTP status only, so gRPC codes are read from the
# server's /metrics afterwards.
#
#   bench/load.sh [path/to/concordat]     (default target/release/concordat)
set -euo pipefail
bin=${1:-target/release/concordat}
requests=${REQUESTS:-200000}
clients=${CLIENTS:-8}
streams=${STREAMS:-32}
command -v h2load >/dev/null || { echo "h2load is missing: apt-get install nghttp2-client" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
data=$(mktemp -d)
grpc=$(free_port); metrics=$(free_port)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT

start=$(date +%s%N)
CONCORDAT_DEV_ISSUER__LISTEN=127.0.0.1:0 CONCORDAT_LOG__FILTER=warn \
  "$bin" serve --data-dir "$data" --listen "127.0.0.1:$grpc" --metrics-listen "127.0.0.1:$metrics" \
  2>"$data/serve.log" &
pid=$!
until curl -sf "http://127.0.0.1:$metrics/readyz" >/dev/null; do sleep 0.002; done
ready=$(date +%s%N)
echo "start to ready: $(( (ready - start) / 1000000 )) ms"
sleep 2
echo "idle memory (RSS): $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"

token=$("$bin" dev token --data-dir "$data" --trust RGT --role viewer 2>/dev/null | tail -1)
printf '\x00\x00\x00\x00\x00' >"$data/empty.bin"   # a gRPC frame holding an empty message
run() {
  h2load -n "$requests" -c "$clients" -m "$streams" -t 1 -d "$data/empty.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' "$@" | awk '/finished in/ {print}'
}
echo "health check (no token):"
health=$(run "http://127.0.0.1:$grpc/grpc.health.v1.Health/Check")
echo "  $health"
echo "WhoAmI (bearer token):"
who=$(run -H "authorization: Bearer $token" "http://127.0.0.1:$grpc/concordat.platform.v1.PlatformService/WhoAmI")
echo "  $who"
rate() { sed -E 's/.* ([0-9.]+) req\/s.*/\1/' <<<"$1"; }
python3 -c "print(f'WhoAmI / health throughput ratio: {float($(rate "$who")) / float($(rate "$health")):.2f}')"
echo "gRPC codes seen by the server:"
curl -s "http://127.0.0.1:$metrics/metrics" | grep '^concordat_grpc_requests_total' | grep -E 'WhoAmI|Check' | sed 's/^/  /'
echo "memory after load (RSS): $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
kill -TERM "$pid"; wait "$pid"; echo "exit after SIGTERM: $?"
