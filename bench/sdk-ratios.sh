#!/usr/bin/env bash
# The SDK hot path against its practical limit, in ONE run on this machine (issue 15): Release builds of an offline
# Primary, a Replica, the Gateway -> Replica, and "bare Kestrel" (bench/BareKestrel) serving the very bytes
# captured from the running Replica, plus "bare YARP" (bench/BareYarp: YARP and nothing else) in front of bare Kestrel
# and in front of the Replica, the forwarding limit the Gateway is held to. wrk drives every route in interleaved
# rounds (bare, Replica, Gateway, bare YARP -> bare, bare YARP -> Replica, bare, ...)
# so drift hits all alike, and the script prints one markdown table:
#   route | process | req/s | p50 | p99 | CPU µs per request | req/s ÷ bare
# on the sample configuration and on a generated environment of 200 flags x 20 groups (bench/generate-config.py).
# Before that (on fresh processes) it holds STREAMS SDK streams on the Replica, then through the Gateway, then through
# bare YARP (unless SKIP_BARE_YARP_STREAMS=1), reporting
# resident memory per stream and the fan-out latency of offline edits to the last of them (bench/stream-fanout.py).
#
#   [DURATION=10] [CONNECTIONS=50] [THREADS=2] [ROUNDS=3] [WARMUP=3] [STREAMS=10000] [EDITS=5] [WARMUP_EDITS=1] \
#   [SKIP_HTTP=1] [SKIP_BIG=1] [SKIP_STREAMS=1] [PROXY_ENV="OTEL_SDK_DISABLED=true ..."] [PERF_SECONDS=8] \
#   bench/sdk-ratios.sh
#
# PERF_SECONDS: after the table, record bare Kestrel, the Replica, bare YARP -> bare Kestrel and the Gateway with
# `perf record -g` for that long each under wrk on the first route, and print where each one's CPU goes
# (bench/perf-breakdown.py). Every .NET process then runs with DOTNET_PerfMapEnabled=1 and
# DOTNET_EnableWriteXorExecute=0 (perf cannot name jitted code otherwise), the table's runs included.
#
# WARMUP_EDITS edits come first and are reported but not counted: a fresh process's JIT keeps re-compiling the
# fan-out path over its first few edits (about 170, 180, 90, 60, 30 methods in edits 2-6 of one run, read from the
# Replica's perf map), so more warm-up edits get closer to a long-running process.
# PROXY_ENV is added to (and overrides) the environment of the Primary, Replica and Gateway, for ablations
# such as OTEL_SDK_DISABLED=true or Logging__LogLevel__Default=Information. Needs dotnet,
# redis-server, wrk, curl, python3. Ports: BENCH_PORT (default 17200) to +6.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10} connections=${CONNECTIONS:-50} threads=${THREADS:-2} rounds=${ROUNDS:-3}
warmup=${WARMUP:-3} streams=${STREAMS:-10000} edits=${EDITS:-5} warmup_edits=${WARMUP_EDITS:-1}
base=${BENCH_PORT:-17200}
redis_port=$base primary_port=$((base + 1)) replica_port=$((base + 2)) gateway_port=$((base + 3)) bare_port=$((base + 4))
yarp_replica_port=$((base + 5)) yarp_bare_port=$((base + 6))
read -ra proxy_env <<<"${PROXY_ENV:-}"
perf_seconds=${PERF_SECONDS:-}
profiling=()
if [ -n "$perf_seconds" ]; then
  command -v perf >/dev/null || { echo "bench: PERF_SECONDS needs perf" >&2; exit 2; }
  profiling=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0)
  proxy_env=("${profiling[@]}" "${proxy_env[@]}")
fi
secret=bench-auth-secret-not-for-production
sample_env=8d9c2b3a-5e4f-4a1b-9c8d-7e6f5a4b3c2d sample_key=b7e2c4d6-1a3f-4e5b-8c9d-0f1e2d3c4b5a
big_env=f15b0a7e-2000-4f1a-9c20-b3e7c4d5e6f7 big_key=6e1d0c2b-15be-4a7c-8d9e-0123456789ab

for tool in dotnet redis-server wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done

# Every process started here, the stream client included, may open as many files as this machine lets it.
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building (Release)..." >&2
for project in FfProxy.Primary FfProxy.Replica FfProxy.Gateway bench/BareKestrel bench/BareYarp; do
  dotnet build "$project" -c Release -v quiet -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done
dll() { echo "$1/bin/Release/net10.0/$(basename "$1").dll"; }

# The Primary watches a copy of config/sample (the fan-out edits touch the copy) plus the generated environment.
mkdir -p "$work/config" "$work/responses"
cp -r config/sample/env-$sample_env "$work/config/"
python3 bench/generate-config.py "$work/config" "$big_env" "$big_key" 200 20 100

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)

# Logs at Error: per-request logging would measure the console, not the proxy (as bench/http-load.sh).
# PROXY_ENV comes last so it can override these too.
# DOTNET_GCgen0size: the first-generation cap the AppHost gives every service (RuntimeTuning.cs), as deployed.
common=(env LOG_LEVEL=ERROR HEARTBEAT_INTERVAL=0 AUTH_SECRET="$secret" REDIS_ADDRESS="127.0.0.1:$redis_port" DOTNET_GCgen0size=0x2000000)
"${common[@]}" OFFLINE=true CONFIG_DIR="$work/config" PORT="$primary_port" "${proxy_env[@]}" dotnet "$(dll FfProxy.Primary)" >"$work/primary.log" 2>&1 &
pids+=($!)
"${common[@]}" PORT="$replica_port" "${proxy_env[@]}" dotnet "$(dll FfProxy.Replica)" >"$work/replica.log" 2>&1 &
replica_pid=$!
pids+=($replica_pid)
# The Gateway's runtime settings, as the AppHost deploys it (RuntimeTuning.cs).
gateway_runtime=(DOTNET_GCgen0size=0x800000)
env LOG_LEVEL=ERROR Logging__LogLevel__Default=Warning PORT="$gateway_port" "${gateway_runtime[@]}" \
  UPSTREAMS="http://127.0.0.1:$replica_port" "${proxy_env[@]}" dotnet "$(dll FfProxy.Gateway)" >"$work/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)

# Bare YARP with the Gateway's first-generation budget; it keeps the Web SDK's server GC where the Gateway's project
# chooses workstation GC (interleaved runs showed no difference in CPU per request between the two).
bare_yarp() { # port upstream-port log-name
  env PORT="$1" UPSTREAM="http://127.0.0.1:$2" "${gateway_runtime[@]}" "${profiling[@]}" dotnet "$(dll bench/BareYarp)" >"$work/$3.log" 2>&1 &
}
bare_yarp "$yarp_replica_port" "$replica_port" yarp-replica
yarp_replica_pid=$!
pids+=($yarp_replica_pid)

wait_for() { # url log-name
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
wait_for "http://127.0.0.1:$yarp_replica_port/health" yarp-replica

authenticate() { # sdk-key target-json
  local token
  token=$(curl -fsS -X POST "http://127.0.0.1:$replica_port/client/auth" -H 'Content-Type: application/json' \
    -d "{\"apiKey\":\"$1\",\"target\":$2}" | sed 's/.*"authToken":"\([^"]*\)".*/\1/')
  [ -n "$token" ] || { echo "bench: no token for $2" >&2; exit 1; }
  echo "$token"
}
sample_token=$(authenticate "$sample_key" \
  '{"identifier":"staff-1","name":"Staff One","attributes":{"email":"staff@example.com","plan":"free"}}')
big_target=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))[7]; print(json.dumps({k: t[k] for k in ("identifier","name","attributes")}))' \
  "$work/config/env-$big_env/targets.json")
big_token=$(authenticate "$big_key" "$big_target")
big_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["identifier"])' "$big_target")

# label|path|token
routes=(
  "feature-configs (sample, 4 flags)|/client/env/$sample_env/feature-configs?cluster=1|$sample_token"
  "evaluations (sample, 4 flags)|/client/env/$sample_env/target/staff-1/evaluations?cluster=1|$sample_token"
  "evaluations/{flag} (sample)|/client/env/$sample_env/target/staff-1/evaluations/dark_mode?cluster=1|$sample_token"
)
if [ "${SKIP_BIG:-}" != 1 ]; then
  routes+=(
    "feature-configs (200 flags)|/client/env/$big_env/feature-configs?cluster=1|$big_token"
    "evaluations (200 flags x 20 groups)|/client/env/$big_env/target/$big_id/evaluations?cluster=1|$big_token"
    "evaluations/{flag} (200-flag env)|/client/env/$big_env/target/$big_id/evaluations/flag_150?cluster=1|$big_token"
  )
fi

# Streams first: resident memory grows less once the HTTP load has grown the heaps, and the edits change the sample
# environment, so the responses are captured after them.
if [ "${SKIP_STREAMS:-}" != 1 ]; then
  # A stream costs a descriptor in the client and the Replica, two in the Gateway (SDK side and upstream).
  limit=$(ulimit -n)
  gateway_streams=$streams
  if [ $((2 * streams + 300)) -gt "$limit" ]; then
    gateway_streams=$(((limit - 300) / 2))
  fi
  echo
  echo "SDK streams: $streams on the Replica, then $gateway_streams through the Gateway (open-file limit $limit), each"
  echo "with $edits edits of dark_mode in the Primary's offline directory after $warmup_edits warm-up edit(s); client:"
  echo "bench/stream-fanout.py (same cores). Fan-out is timed from Redis's keyspace notification that the Primary wrote"
  echo "env-$sample_env-feature-configs-latest to the kernel's receive time of event: * on the last stream."
  echo "This runs before the HTTP load, so baselines are fresh processes (the Replica behind the Gateway already held"
  echo "the first streams)."
  stream_ready() { # port: SDK streams answer 503 until the Replica has read the Primary's stream state
    local status
    for _ in $(seq 1 120); do
      status=$(curl -s -m 1 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $sample_token" \
        -H "API-Key: $sample_key" "http://127.0.0.1:$1/stream?cluster=1" || true)
      [ "$status" = 200 ] && return 0
      sleep 0.5
    done
    echo "bench: SDK streams on port $1 still answer $status" >&2
    exit 1
  }
  fanout() { # port streams label=pid...
    local port=$1 count=$2
    shift 2
    local rss=()
    stream_ready "$port"
    for watched in "$@"; do rss+=(--rss "$watched"); done
    python3 bench/stream-fanout.py --port "$port" --token "$sample_token" --api-key "$sample_key" --streams "$count" \
      --redis-port "$redis_port" --env "$sample_env" --flags-file "$work/config/env-$sample_env/feature_config.json" \
      --flag dark_mode --edits "$edits" --warmup-edits "$warmup_edits" "${rss[@]}"
  }
  echo
  echo "Replica:"
  fanout "$replica_port" "$streams" "Replica=$replica_pid"
  sleep 3 # let the Replica close the streams before the Gateway's measurement starts
  echo
  echo "Gateway -> Replica:"
  fanout "$gateway_port" "$gateway_streams" "Gateway=$gateway_pid" "Replica behind it=$replica_pid"
  if [ "${SKIP_BARE_YARP_STREAMS:-}" != 1 ]; then
    sleep 3
    echo
    echo "bare YARP -> Replica (what YARP alone holds per stream):"
    fanout "$yarp_replica_port" "$gateway_streams" "bare YARP=$yarp_replica_pid" "Replica behind it=$replica_pid"
  fi
fi

# Capture each route's response from the running Replica (status, content type, body), check the Gateway serves the
# same bytes, and have bare Kestrel serve them.
n=0
for route in "${routes[@]}"; do
  IFS='|' read -r label path token <<<"$route"
  n=$((n + 1))
  meta=$(curl -sS -o "$work/responses/$n.body" -w '%{http_code}\t%{content_type}' \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$replica_port$path")
  [ "${meta%%$'\t'*}" = 200 ] || { echo "bench: Replica answered $meta to $label" >&2; exit 1; }
  printf '%s\t%s\t%s.body\n' "$path" "$meta" "$n" >>"$work/responses/manifest.tsv"
  curl -sS -o "$work/responses/$n.gateway" -H "Authorization: Bearer $token" "http://127.0.0.1:$gateway_port$path"
  cmp -s "$work/responses/$n.body" "$work/responses/$n.gateway" \
    || { echo "bench: the Gateway's response to $label differs from the Replica's" >&2; exit 1; }
  sizes+=("$(stat -c %s "$work/responses/$n.body")")
done
env RESPONSES="$work/responses" PORT="$bare_port" "${profiling[@]}" dotnet "$(dll bench/BareKestrel)" >"$work/bare.log" 2>&1 &
bare_pid=$!
pids+=($bare_pid)
IFS='|' read -r _ first_path _ <<<"${routes[0]}"
wait_for "http://127.0.0.1:$bare_port$first_path" bare
bare_yarp "$yarp_bare_port" "$bare_port" yarp-bare
yarp_bare_pid=$!
pids+=($yarp_bare_pid)
wait_for "http://127.0.0.1:$yarp_bare_port$first_path" yarp-bare

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
to_ms() { # wrk latency (850.00us, 1.20ms, 1.02s) -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
# name|port|pid|pid of the process behind it (its CPU is shown in brackets)
processes=("bare Kestrel|$bare_port|$bare_pid|" "Replica|$replica_port|$replica_pid|"
  "Gateway -> Replica|$gateway_port|$gateway_pid|$replica_pid"
  "bare YARP -> bare Kestrel|$yarp_bare_port|$yarp_bare_pid|$bare_pid"
  "bare YARP -> Replica|$yarp_replica_port|$yarp_replica_pid|$replica_pid")
wrk_run() { # seconds port path token
  wrk -t"$threads" -c"$connections" -d"$1s" --latency -H "Authorization: Bearer $4" "http://127.0.0.1:$2$3"
}

if [ "${SKIP_HTTP:-}" != 1 ]; then
  echo "warming up (${warmup}s per route and process)..." >&2
  for route in "${routes[@]}"; do
    IFS='|' read -r label path token <<<"$route"
    for process in "${processes[@]}"; do
      IFS='|' read -r name port pid _ <<<"$process"
      wrk_run "$warmup" "$port" "$path" "$token" >/dev/null
    done
  done
  results="$work/results.tsv"
  for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds..." >&2
    for route in "${routes[@]}"; do
      IFS='|' read -r label path token <<<"$route"
      for process in "${processes[@]}"; do
        IFS='|' read -r name port pid behind_pid <<<"$process"
        before=$(cpu_ticks "$pid") behind_before=$(cpu_ticks "${behind_pid:-$pid}")
        out=$(wrk_run "$duration" "$port" "$path" "$token")
        after=$(cpu_ticks "$pid") behind_after=$(cpu_ticks "${behind_pid:-$pid}")
        if grep -q "Socket errors" <<<"$out"; then
          echo "bench: $name $label: $(grep "Socket errors" <<<"$out")" >&2
        fi
        if grep -q "Non-2xx" <<<"$out"; then
          echo "bench: $name $label had failed requests:" >&2
          echo "$out" >&2
          exit 1
        fi
        requests=$(awk '/requests in/ { print $1 }' <<<"$out")
        seconds=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' <<<"$out")
        p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
        p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
        behind=$([ -n "$behind_pid" ] && echo $((behind_after - behind_before)) || echo "")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$name" "$round" "$requests" "$seconds" "$p50" "$p99" \
          $((after - before)) "$behind" >>"$results"
      done
    done
  done

  echo
  echo "wrk -t$threads -c$connections -d${duration}s, $rounds interleaved round(s) after ${warmup}s warm-up, on $(nproc) cores" \
    "($(date -u '+%Y-%m-%d %H:%M UTC')${PROXY_ENV:+, PROXY_ENV=$PROXY_ENV})."
  echo "wrk, Redis and the Primary share the cores with the process measured; CPU is that process's utime+stime"
  echo "(/proc/<pid>/stat, $(getconf CLK_TCK) ticks/s) over the timed runs divided by the requests completed; for a"
  echo "forwarder the process behind it is shown in brackets. Ratio = median over rounds of req/s ÷ bare Kestrel's req/s"
  echo "in the same round (range when ROUNDS > 1). Bodies: $(for i in "${!routes[@]}"; do IFS='|' read -r l _ <<<"${routes[$i]}"; printf '%s %s B; ' "$l" "${sizes[$i]}"; done)"
  echo
  python3 - "$results" "$(getconf CLK_TCK)" <<'EOF'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
tick_us = 1e6 / int(sys.argv[2])
routes, processes, runs = [], [], {}
for label, name, rnd, requests, seconds, p50, p99, ticks, behind in rows:
    routes += [label] if label not in routes else []
    processes += [name] if name not in processes else []
    runs.setdefault((label, name), []).append(dict(round=rnd, requests=int(requests), rps=int(requests) / float(seconds),
        p50=float(p50), p99=float(p99), ticks=int(ticks), behind=int(behind) if behind else None))
print("| route | process | req/s | p50 ms | p99 ms | CPU µs per request | req/s ÷ bare |")
print("|---|---|---:|---:|---:|---:|---:|")
for label in routes:
    bare = {r["round"]: r["rps"] for r in runs[(label, processes[0])]}
    for name in processes:
        rs = runs[(label, name)]
        requests = sum(r["requests"] for r in rs)
        cpu = f"{sum(r['ticks'] for r in rs) * tick_us / requests:.0f}"
        if rs[0]["behind"] is not None:
            cpu += f" (+{sum(r['behind'] for r in rs) * tick_us / requests:.0f})"
        ratios = [r["rps"] / bare[r["round"]] for r in rs]
        ratio = f"{statistics.median(ratios):.2f}"
        if len(ratios) > 1 and name != processes[0]:
            ratio += f" ({min(ratios):.2f}–{max(ratios):.2f})"
        print(f"| {label} | {name} | {statistics.mean(r['rps'] for r in rs):.0f} | "
              f"{statistics.median(r['p50'] for r in rs):.2f} | {statistics.median(r['p99'] for r in rs):.2f} | "
              f"{cpu} | {ratio} |")
EOF
fi

if [ -n "$perf_seconds" ]; then
  IFS='|' read -r label path token <<<"${routes[0]}"
  echo
  echo "Profiles: perf record -F 999 -g for ${perf_seconds}s of wrk -t$threads -c$connections on $label, one process at a"
  echo "time; each sample charged to its innermost frame (bench/perf-breakdown.py); µs per request as measured over that"
  echo "wrk run (perf's own sampling cost included)."
  for process in "${processes[0]}" "${processes[1]}" "${processes[3]}" "${processes[2]}"; do
    IFS='|' read -r name port pid _ <<<"$process"
    before=$(cpu_ticks "$pid")
    wrk_run $((perf_seconds + 2)) "$port" "$path" "$token" >"$work/perf-wrk.txt" &
    wrk_pid=$!
    sleep 1
    perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep "$perf_seconds" >/dev/null 2>&1
    wait "$wrk_pid"
    after=$(cpu_ticks "$pid")
    requests=$(awk '/requests in/ { print $1 }' "$work/perf-wrk.txt")
    echo
    perf script -i "$work/perf.data" 2>/dev/null | python3 bench/perf-breakdown.py --title "$name" \
      --us-per-request "$(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t * 1e6 / hz / n }')"
  done
fi
