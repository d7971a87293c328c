#!/usr/bin/env bash
# Request throughput of the SDK API, measured with wrk against Release builds on this machine: a Replica directly,
# the same Replica through the Gateway, and the Primary (Redis-backed, offline on config/sample). These are the
# figures quoted under "Sizing" in the README; load generator and proxy share the machine's cores.
#
#   bench/http-load.sh [seconds per run, default 8] [connections, default 50]
#
# Then, with python3, it holds STREAMS (default 2000) SDK streams on the Replica, then through the Gateway, and
# reports how much each process grew.
# Needs dotnet, redis-server and wrk (apt-get install redis-server wrk). Ports: BENCH_PORT (default 17100) to +3.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-8}
connections=${2:-50}
base=${BENCH_PORT:-17100}
redis_port=$base primary_port=$((base + 1)) replica_port=$((base + 2)) gateway_port=$((base + 3))
env_id=8d9c2b3a-5e4f-4a1b-9c8d-7e6f5a4b3c2d
client_key=b7e2c4d6-1a3f-4e5b-8c9d-0f1e2d3c4b5a
secret=bench-auth-secret-not-for-production

for tool in dotnet redis-server wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building (Release)..." >&2
for project in Primary Replica Gateway; do
  dotnet build "FfProxy.$project" -c Release -v quiet -nologo >"$work/build-$project.log" 2>&1 \
    || { cat "$work/build-$project.log" >&2; exit 1; }
done
dll() { echo "FfProxy.$1/bin/Release/net10.0/FfProxy.$1.dll"; }

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)

# LOG_LEVEL=ERROR: per-request logging would measure the console, not the proxy.
# DOTNET_GCgen0size: the first-generation cap the AppHost gives every service (RuntimeTuning.cs), as deployed.
common=(env LOG_LEVEL=ERROR HEARTBEAT_INTERVAL=0 AUTH_SECRET="$secret" REDIS_ADDRESS="127.0.0.1:$redis_port" DOTNET_GCgen0size=0x2000000)
"${common[@]}" OFFLINE=true CONFIG_DIR=config/sample PORT="$primary_port" dotnet "$(dll Primary)" >"$work/primary.log" 2>&1 &
pids+=($!)
"${common[@]}" PORT="$replica_port" dotnet "$(dll Replica)" >"$work/replica.log" 2>&1 &
pids+=($!)
env LOG_LEVEL=ERROR PORT="$gateway_port" UPSTREAMS="http://127.0.0.1:$replica_port" Logging__LogLevel__Default=Warning DOTNET_GCgen0size=0x800000 \
  dotnet "$(dll Gateway)" >"$work/gateway.log" 2>&1 &
pids+=($!)

wait_for() { # url what
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "bench: $2 did not come up; its log:" >&2
  cat "$work/$2.log" >&2
  exit 1
}
wait_for "http://127.0.0.1:$primary_port/health" primary
wait_for "http://127.0.0.1:$replica_port/health" replica
wait_for "http://127.0.0.1:$gateway_port/health" gateway

token=$(curl -fsS -X POST "http://127.0.0.1:$primary_port/client/auth" -H 'Content-Type: application/json' \
  -d "{\"apiKey\":\"$client_key\",\"target\":{\"identifier\":\"staff-1\",\"name\":\"Staff\",\"attributes\":{\"email\":\"staff@example.com\"}}}" \
  | sed 's/.*"authToken":"\([^"]*\)".*/\1/')
[ -n "$token" ] || { echo "bench: no token" >&2; exit 1; }

routes=(
  "feature-configs|/client/env/$env_id/feature-configs?cluster=1"
  "target-segments|/client/env/$env_id/target-segments?cluster=1&rules=v2"
  "evaluations (all flags)|/client/env/$env_id/target/staff-1/evaluations?cluster=1"
  "evaluation (one flag)|/client/env/$env_id/target/staff-1/evaluations/dark_mode?cluster=1"
)
targets=("Replica|$replica_port" "Gateway -> Replica|$gateway_port" "Primary|$primary_port")

printf '%s\n' "wrk -t2 -c$connections -d${duration}s on $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '| %-20s | %-24s | %10s | %9s | %9s |\n' process route "req/s" "p50" "p99"
printf '|%s|%s|%s|%s|%s|\n' "----------------------" "--------------------------" "------------" "-----------" "-----------"
for target in "${targets[@]}"; do
  name=${target%%|*} port=${target##*|}
  for route in "${routes[@]}"; do
    label=${route%%|*} path=${route#*|}
    url="http://127.0.0.1:$port$path"
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url")
    [ "$status" = 200 ] || { echo "bench: $name $label answered $status" >&2; exit 1; }
    wrk -t2 -c"$connections" -d3s -H "Authorization: Bearer $token" "$url" >/dev/null # warm-up (tiered JIT, pools)
    result=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $token" "$url")
    if grep -q "Non-2xx" <<<"$result"; then
      echo "bench: $name $label had failed responses:" >&2
      echo "$result" >&2
      exit 1
    fi
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$result")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$result")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$result")
    printf '| %-20s | %-24s | %10s | %9s | %9s |\n' "$name" "$label" "$rps" "$p50" "$p99"
  done
done

# Memory per SDK stream: what sizing Replicas and Gateways by connections needs.
streams=${STREAMS:-2000}
if ! command -v python3 >/dev/null; then
  echo "(python3 not found: SDK stream memory not measured)"
  exit 0
fi
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hold_streams() { # label port pid-of-the-process-measured
  local before after opened
  sleep 2
  before=$(rss_kb "$3")
  coproc HOLD { python3 bench/hold-streams.py 127.0.0.1 "$2" "$token" "$client_key" "$streams" 2>&1; }
  read -r opened <&"${HOLD[0]}" || true
  [ "$opened" = "open $streams" ] || { echo "bench: $1: streams not opened: $opened" >&2; exit 1; }
  sleep 5
  after=$(rss_kb "$3")
  echo "$1: $streams SDK streams held; resident memory ${before} kB -> ${after} kB," \
    "about $(( (after - before) * 1024 / streams )) bytes per stream"
  exec {HOLD[1]}>&-
  wait "$HOLD_PID" 2>/dev/null || true
}
echo
hold_streams "Replica" "$replica_port" "${pids[2]}"
hold_streams "Gateway (streams to the Replica behind it)" "$gateway_port" "${pids[3]}"
