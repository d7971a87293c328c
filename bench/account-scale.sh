#!/usr/bin/env bash
# The online Primary at account scale (issue 14): Release builds of the Primary and a Replica, a real redis-server
# and a fake Harness SaaS (bench/ScaleSaas, pre-serialized answers) holding an account of ENVS environments x FLAGS
# flags x GROUPS target groups, two SDK keys each. Measures, in this order:
#   1. start-up full sync: Primary process start -> /health 200 (and configStatus SYNCED); Primary CPU; peak and
#      settled resident memory (VmHWM, and VmRSS SETTLE seconds later);
#   2. Replica start -> every environment preloaded: the moment the Replica logs "Preloaded {Count} environments in
#      {ElapsedMs} ms" (PrimaryFollower, before it follows proxy:sse_events; its ElapsedMs is reported too). Only if
#      that line never comes (a log level above INFO) "preloaded" is the moment Redis's CLIENT LIST first shows the
#      Replica's connection (client name bench-replica) on XREAD, the line being given 2 s to follow; then ScaleProbe
#      checks that the Replica serves every environment in full;
#   3. storm: STORM flag patch events within 2 s across environments -> every new version in Redis (MGET of each
#      env-{env}-feature-config-{flag}) and served by the Replica (GET .../feature-configs/{flag} of every changed
#      flag, not a sample); Primary CPU seconds and peak resident memory during the storm;
#   4. environmentsAdded with ADDED environments -> all in Redis, and the last one served by the Replica;
#   5. outage: the account stream ends and is refused; once the Primary's poll at the drop has read the whole
#      account, OUTAGE_CHANGES flags change silently; then the stream is allowed again -> the Replica serves every
#      change; full re-syncs counted as first pages of /proxy/config at the fake, before and after reconnection.
# For each phase it prints Redis INFO commandstats deltas (the probe's own MGETs taken out; connection
# housekeeping such as INFO, CLIENT, CONFIG, CLUSTER, ECHO, SUBSCRIBE, QUIT left out).
#
#   env ENVS=1000 FLAGS=50 GROUPS=10 STORM=1000 ADDED=50 OUTAGE_CHANGES=200 bench/account-scale.sh
#
# Note: bash does not pass a variable named GROUPS to a command (`GROUPS=3 bench/account-scale.sh` is ignored), so
# give it through `env` as above, or as TARGET_GROUPS. Other settings: STREAM_RETRY (seconds between the Primary's
# stream attempts, SaasTimings.StreamRetry; default 5 instead of 60 so the outage does not wait a minute),
# SETTLE (seconds before "settled" memory, default 5), TIMEOUT (per scenario, default 900), PROXY_LOG_LEVEL (INFO),
# KEEP=1 keeps the work directory with every process's log.
# Needs dotnet, redis-server, redis-cli and curl. Linux only (reads /proc).
set -euo pipefail
cd "$(dirname "$0")/.."

envs=${ENVS:-1000}
flags=${FLAGS:-50}
groups=${TARGET_GROUPS:-$(tr '\0' '\n' </proc/$$/environ | sed -n 's/^GROUPS=//p')}
groups=${groups:-10}
storm=${STORM:-1000}
added=${ADDED:-50}
outage_changes=${OUTAGE_CHANGES:-200}
stream_retry=${STREAM_RETRY:-5}
settle=${SETTLE:-5}
timeout=${TIMEOUT:-900}
log_level=${PROXY_LOG_LEVEL:-INFO}
proxy_key=scale-proxy-key
secret=bench-auth-secret-not-for-production

for tool in dotnet redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done # Redis last
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "bench: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A port nothing listens on, below the ephemeral range (where outgoing connections could hold it) and not yet handed out.
ephemeral=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
given=" "
free_port() { # variable-name
  local port=$((10000 + RANDOM % (ephemeral - 10100)))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || [[ $given == *" $port "* ]]; do port=$((port + 1)); done
  given+="$port "
  printf -v "$1" %s "$port"
}
ms() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; } # pid VmRSS|VmHWM
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || peak_note=" (VmHWM could not be reset: peaks are since process start)"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
cpu_secs() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz }'; }
peak_note=""

echo "building (Release)..." >&2
build() {
  dotnet build "$1" -c Release -v quiet -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
}
build FfProxy.Primary
build FfProxy.Replica
build bench/ScaleSaas
build bench/ScaleProbe
dll() { echo "$1/bin/Release/net10.0/$(basename "$1").dll"; }

free_port redis_port
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
rcli() { redis-cli -p "$redis_port" "$@"; }
for _ in $(seq 1 50); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done

free_port saas_port
saas=http://127.0.0.1:$saas_port
env PORT="$saas_port" PROXY_KEY="$proxy_key" ENVS="$envs" FLAGS="$flags" TARGET_GROUPS="$groups" \
  dotnet "$(dll bench/ScaleSaas)" >"$work/saas.log" 2>&1 &
pids+=($!)
saas_pid=$!

wait_for() { # url name seconds
  for _ in $(seq 1 $(($3 * 10))); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench: $2 did not come up; its log:" >&2
  tail -50 "$work/$2.log" >&2
  exit 1
}
wait_for "$saas/control/stats" saas 120
mark_of() { curl -fsS "$saas/control/stats" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; } # when the fake last did $1 (lastAt comes last)

# Redis INFO commandstats, as "command calls" lines.
cmdstats() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p' >"$1"; }
# "SET 67003, XADD 60001, ..." from two cmdstats files, minus the probe's own MGETs.
cmddelta() { # before after probe-mget
  awk -v probe="${3:-0}" '
    NR == FNR { before[$1] = $2; next }
    { d = $2 - before[$1]; if ($1 == "mget") d -= probe
      if ($1 ~ /^(info|command|echo|hello|select|quit|subscribe)$/ || $1 ~ /^(client|config|cluster|command)\|/ || d <= 0) next
      printf "%s %d\n", toupper($1), d }' "$1" "$2" | sort -k2,2nr | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 } END { if (NR == 0) printf "none" }'
}
value() { sed -n "s/^$1=//p" "$2"; } # name file: a line of ScaleProbe's output

# DOTNET_GCgen0size: the first-generation cap the AppHost gives every service (RuntimeTuning.cs), as deployed.
common=(env LOG_LEVEL="$log_level" AUTH_SECRET="$secret" DOTNET_GCgen0size=0x2000000)

# ---- 1. start-up full sync ------------------------------------------------------------------------------------
free_port primary_port
primary=http://127.0.0.1:$primary_port
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cmdstats "$work/cmd0"
t0=$(ms)
"${common[@]}" PORT="$primary_port" PROXY_KEY="$proxy_key" REDIS_ADDRESS="127.0.0.1:$redis_port,name=bench-primary" \
  CLIENT_SERVICE="$saas/api/1.0" METRIC_SERVICE="$saas/api/1.0" FfProxy__Saas__StreamRetry="00:00:$(printf %02d "$stream_retry")" \
  dotnet "$(dll FfProxy.Primary)" >"$work/primary.log" 2>&1 &
pids+=($!)
primary_pid=$!
t_health="" t_synced=""
deadline=$(($(ms) + timeout * 1000))
while [ -z "$t_synced" ]; do
  [ "$(ms)" -lt "$deadline" ] && kill -0 "$primary_pid" 2>/dev/null || { echo "bench: the Primary did not sync; its log:" >&2; tail -50 "$work/primary.log" >&2; exit 1; }
  body=$(curl -s -w '\n%{http_code}' "$primary/health" 2>/dev/null || true)
  if [ "${body##*$'\n'}" = 200 ]; then
    now=$(ms)
    t_health=${t_health:-$now}
    grep -q '"configStatus":{"state":"SYNCED"' <<<"$body" && t_synced=$now
  fi
  [ -n "$t_synced" ] || sleep 0.1
done
sync_cpu=$(cpu_secs 0 "$(cpu_ticks "$primary_pid")")
pages_done=$(mark_of config-last-page)
primary_sync_hwm=$(status_kb "$primary_pid" VmHWM)
cmdstats "$work/cmd1"
sleep "$settle"
primary_settled=$(status_kb "$primary_pid" VmRSS)
keys=$(rcli DBSIZE)
echo "start-up: /health 200 after $(secs "$t0" "$t_health") s; Redis holds $keys keys" >&2

# ---- 2. Replica start -> every environment preloaded ------------------------------------------------------------
free_port replica_port
replica=http://127.0.0.1:$replica_port
cmdstats "$work/cmd2"
r0=$(ms)
"${common[@]}" PORT="$replica_port" REDIS_ADDRESS="127.0.0.1:$redis_port,name=bench-replica" \
  dotnet "$(dll FfProxy.Replica)" >"$work/replica.log" 2>&1 &
pids+=($!)
replica_pid=$!
r_health="" r_preloaded="" r_following="" preload_line=""
deadline=$(($(ms) + timeout * 1000))
while [ -z "$r_health" ] || [ -z "$r_preloaded" ]; do
  [ "$(ms)" -lt "$deadline" ] && kill -0 "$replica_pid" 2>/dev/null || { echo "bench: the Replica did not preload; its log:" >&2; tail -50 "$work/replica.log" >&2; exit 1; }
  [ -n "$r_health" ] || { curl -fsS -o /dev/null "$replica/health" 2>/dev/null && r_health=$(ms); } || true
  if [ -z "$r_preloaded" ]; then
    # The Replica's own word (LogEventIds.ReplicaReplication.Preloaded); the console logger writes it a moment later.
    preload_line=$(grep -m1 -o 'Preloaded [0-9]* environments in [0-9]* ms' "$work/replica.log" || true)
    if [ -n "$preload_line" ]; then
      r_preloaded=$(ms)
    else
      [ -n "$r_following" ] || { rcli CLIENT LIST | grep -q 'name=bench-replica .*cmd=xread' && r_following=$(ms); } || true
      [ -n "$r_following" ] && [ $(($(ms) - r_following)) -gt 2000 ] && r_preloaded=$r_following || true
    fi
  fi
  [ -n "$r_preloaded" ] && [ -n "$r_health" ] || sleep 0.1
done
if [ -n "$preload_line" ]; then
  preload_how="the Replica logged \"$preload_line\""
else
  preload_how="no \"Preloaded\" log line (log level?): first XREAD in CLIENT LIST"
fi
replica_preload_hwm=$(status_kb "$replica_pid" VmHWM)
cmdstats "$work/cmd3"
sleep "$settle"
replica_settled=$(status_kb "$replica_pid" VmRSS)
probe=(dotnet "$(dll bench/ScaleProbe)")
probe_args=(--saas "$saas" --redis "127.0.0.1:$redis_port" --replica "$replica" --primary "$primary" --tokens "$work/tokens" --timeout "$timeout")
"${probe[@]}" tokens "${probe_args[@]}" >"$work/tokens.out" || { echo "bench: ScaleProbe tokens failed" >&2; exit 1; }
echo "replica: preloaded after $(secs "$r0" "$r_preloaded") s ($preload_how); $(value replica_incomplete "$work/tokens.out") environments not served in full" >&2

# ---- 3. storm ------------------------------------------------------------------------------------------------
run_phase() { # name probe-command count: runs ScaleProbe with CPU, peak memory and Redis commands around it
  local name=$1
  reset_peak "$primary_pid"
  reset_peak "$replica_pid"
  local pc0 rc0
  pc0=$(cpu_ticks "$primary_pid") rc0=$(cpu_ticks "$replica_pid")
  cmdstats "$work/$name.cmd0"
  "${probe[@]}" "$2" "${probe_args[@]}" --count "$3" >"$work/$name.out" || { echo "bench: ScaleProbe $2 failed" >&2; exit 1; }
  cmdstats "$work/$name.cmd1"
  printf 'primary_cpu=%s\nreplica_cpu=%s\nprimary_hwm=%s\nreplica_hwm=%s\n' \
    "$(cpu_secs "$pc0" "$(cpu_ticks "$primary_pid")")" "$(cpu_secs "$rc0" "$(cpu_ticks "$replica_pid")")" \
    "$(status_kb "$primary_pid" VmHWM)" "$(status_kb "$replica_pid" VmHWM)" >>"$work/$name.out"
  echo "$name: $(tr '\n' ' ' <"$work/$name.out")" >&2
}
run_phase storm storm "$storm"

# ---- 4. environmentsAdded ---------------------------------------------------------------------------------------
run_phase added added "$added"

# ---- 5. outage, then reconnect ------------------------------------------------------------------------------------
run_phase outage outage "$outage_changes"

# ---- the table -------------------------------------------------------------------------------------------------
primary_peak=$(status_kb "$primary_pid" VmHWM)
saas_cpu=$(curl -fsS "$saas/control/stats" | sed -n 's/.*"cpuSeconds":\([0-9.]*\).*/\1/p')
o=$work/storm.out a=$work/added.out u=$work/outage.out
since_read() { awk -v r="$(value redis_s "$1")" -v l="$(value last_item_read_s "$1")" 'BEGIN { if (r ~ /^[0-9.]+$/ && l ~ /^[0-9.]+$/) printf "%.2f", r - l; else printf "?" }'; }
max_kb() { printf '%s\n' "$@" | sort -n | tail -1; }
echo
echo "Account: $envs environments x $flags flags x $groups groups, 2 SDK keys each ($keys Redis keys after the sync);"
echo "Release builds, $(nproc) cores, $(date -u +%Y-%m-%d), load average at the Primary's start: $load_before."
echo
echo "| scenario | figure |"
echo "|---|---|"
echo "| start-up full sync, start → \`/health\` 200 | $(secs "$t0" "$t_health") s (→ SYNCED $(secs "$t0" "$t_synced") s; SaaS pages all answered by $(secs "$t0" "$pages_done") s; Primary CPU $sync_cpu s) |"
echo "| Primary resident memory after that sync | $(mb "$primary_settled") ${settle} s after \`/health\` 200 (peak until then $(mb "$primary_sync_hwm")) |"
echo "| $(value storm_events "$o") flag \`patch\` events within 2 s across environments ($(value storm_flags "$o") flags) → all new versions in Redis / served by the Replica (every changed flag checked) | Redis $(value redis_s "$o") s, Replica $(value replica_s "$o") s (SaaS answered the last item read at $(value last_item_read_s "$o") s, so Redis had all $(since_read "$o") s after it; events sent by $(value storm_sent_s "$o") s; $(value item_reads "$o") item reads, $(value list_reads "$o") list reads, $(value full_resyncs "$o") full re-syncs); Primary CPU $(value primary_cpu "$o") s, peak $(mb "$(value primary_hwm "$o")"); Replica CPU $(value replica_cpu "$o") s |"
echo "| \`environmentsAdded\` with $(value added_environments "$a") new environments → last one served by the Replica | $(value replica_s "$a") s (all in Redis $(value redis_s "$a") s; $(value config_environment_pages "$a") single-environment pages, $(value auth_requests "$a") re-auths, $(value full_resyncs "$a") full re-syncs); Primary CPU $(value primary_cpu "$a") s, peak $(mb "$(value primary_hwm "$a")") |"
echo "| Replica start → every environment preloaded | $(secs "$r0" "$r_preloaded") s ($preload_how; /health 200 at $(secs "$r0" "$r_health") s), peak $(mb "$replica_preload_hwm"), $(mb "$replica_settled") ${settle} s after; $(value replica_incomplete "$work/tokens.out") environments not served in full |"
echo "| outage with $(value outage_changes "$u") flags changed, then reconnect → Replica serves all | $(value replica_s "$u") s after reconnection was allowed (Redis $(value redis_s "$u") s; stream reopened at $(value stream_reopened_s "$u") s); the Primary's poll at the drop had read every page $(value poll_pages_read_s "$u") s after the drop, the changes came after it; full re-syncs: $(value resyncs_before_reconnect "$u") at the drop, $(value resyncs_after_reconnect "$u") after reconnection ($(value config_pages_after_reconnect "$u") pages); settled: $(value settled "$u") |"
echo
echo "Peak resident memory over the run: Primary $(mb "$(max_kb "$primary_sync_hwm" "$(value primary_hwm "$o")" "$(value primary_hwm "$a")" "$(value primary_hwm "$u")" "$primary_peak")"), Replica $(mb "$(max_kb "$replica_preload_hwm" "$(value replica_hwm "$o")" "$(value replica_hwm "$a")" "$(value replica_hwm "$u")")")$peak_note; the fake SaaS used $(printf %.1f "$saas_cpu") s of CPU in all (generation included)."
echo
echo "| phase | Redis commands (INFO commandstats deltas) |"
echo "|---|---|"
echo "| start-up sync | $(cmddelta "$work/cmd0" "$work/cmd1") |"
echo "| Replica preload | $(cmddelta "$work/cmd2" "$work/cmd3") |"
echo "| storm | $(cmddelta "$work/storm.cmd0" "$work/storm.cmd1" "$(value probe_mget "$o")") |"
echo "| environmentsAdded | $(cmddelta "$work/added.cmd0" "$work/added.cmd1" "$(value probe_mget "$a")") (includes $(value probe_auth "$a") SDK authentications by the probe at the Replica) |"
echo "| outage + reconnect | $(cmddelta "$work/outage.cmd0" "$work/outage.cmd1" "$(value probe_mget "$u")") |"
