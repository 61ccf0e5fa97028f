#!/usr/bin/env bash
# Measures health, GetCallerIdentity signed with RPC v1 and GetCallerIdentity signed with V3
# against a release `tessera serve` on loopback, RUNS times each (interleaved), and prints the
# median of each and its ratio to health's.
# Each run also reports the cores used by the server, the load generator and everything else
# ("others"): a run in which others used more than MAX_OTHERS cores is repeated.
#
# Build first:  cargo build --release --bin tessera --bin tessera-loadgen
# Then:         crates/tessera-loadgen/measure.sh
#
# Settings (environment): RUNS (3), DURATION (10), WARMUP (2), CONNECTIONS (64), THREADS (1,
# the load generator's runtime threads), PIN (unset; 1 = server on core 1, load generator on
# core 0, as in shared/notes/limits.md), SERVER_PER_RUN (1 = a fresh server process for every
# run; 0 = one server for everything, see the README about the replay window), SERVER_ARGS (extra
# `tessera serve` flags, e.g. "--log-level warn"), IDLE_WAIT (120: seconds to wait before each
# run for the machine to be >= 90 % idle; 0 = do not wait), MAX_OTHERS (0.2: a run during which
# other processes used more cores than this is repeated, up to RETRIES (3) times, then kept and
# flagged), CARGO_TARGET_DIR.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
SERVER_PER_RUN=${SERVER_PER_RUN:-1}
IDLE_WAIT=${IDLE_WAIT:-120}
MAX_OTHERS=${MAX_OTHERS:-0.2}
RETRIES=${RETRIES:-3}
read -r -a server_args <<<"${SERVER_ARGS:-}"
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release
server_bin=$bin/tessera
loadgen_bin=$bin/tessera-loadgen
for b in "$server_bin" "$loadgen_bin"; do
    [[ -x $b ]] || { echo "missing $b: cargo build --release --bin tessera --bin tessera-loadgen" >&2; exit 1; }
done
server_pin=()
loadgen_pin=()
if [[ ${PIN:-} == 1 ]]; then
    server_pin=(taskset -c 1)
    loadgen_pin=(taskset -c 0)
fi

data=$(mktemp -d)
out=$data/results.jsonl
pid=
url=

start_server() {
    "${server_pin[@]}" "$server_bin" serve --listen 127.0.0.1:0 --data "$data/server" \
        "${server_args[@]}" >"$data/server.out" 2>>"$data/server.log" &
    pid=$!
    for _ in $(seq 100); do
        url=$(sed -n 's/^tessera: listening on \(http:[^ ]*\).*/\1/p' "$data/server.out")
        [[ -n $url ]] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the server did not start; see $data/server.log" >&2
    exit 1
}

stop_server() {
    if [[ -n $pid ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    fi
}
trap stop_server EXIT

# Other work on a 2-core machine changes the numbers more than anything measured here.
wait_idle() {
    local waited=0 t1 i1 t2 i2 idle
    while ((IDLE_WAIT > 0)); do
        read -r t1 i1 < <(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
        sleep 3
        read -r t2 i2 < <(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
        idle=$((100 * (i2 - i1) / (t2 - t1 + 1)))
        ((idle >= 90)) && return 0
        waited=$((waited + 3))
        if ((waited >= IDLE_WAIT)); then
            echo "warning: the machine is busy (${idle}% idle); measuring anyway" >&2
            return 0
        fi
    done
}

# CPU seconds: of the whole machine (busy, from /proc/stat), and of one process.
machine_busy() { awk '/^cpu /{printf "%.2f", ($2+$3+$4+$7+$8+$9)/100}' /proc/stat; }
process_cpu() { awk '{sub(/.*\) /, ""); printf "%.2f", ($12+$13)/100}' "/proc/$1/stat"; }

loadgen() {
    "${loadgen_pin[@]}" "$loadgen_bin" --url "$url" --connections "$CONNECTIONS" \
        --duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" -q "$@" \
        2>"$data/loadgen.err" | tail -n 1
}

run_case() {
    case $1 in
        health) loadgen --action health ;;
        v1) loadgen --action GetCallerIdentity --credentials "$data/server/root-credentials.json" --signature v1 ;;
        v3) loadgen --action GetCallerIdentity --credentials "$data/server/root-credentials.json" --signature v3 ;;
    esac
}

echo "# $(date -u +%FT%TZ) runs=$RUNS duration=$DURATION warmup=$WARMUP connections=$CONNECTIONS threads=$THREADS pin=${PIN:-0} server_per_run=$SERVER_PER_RUN server_args=${SERVER_ARGS:-}" >&2
[[ $SERVER_PER_RUN == 1 ]] || start_server
measure_once() {
    wait_idle
    [[ $SERVER_PER_RUN == 1 ]] && start_server
    busy0=$(machine_busy)
    server0=$(process_cpu "$pid")
    line=$(run_case "$1")
    busy1=$(machine_busy)
    server1=$(process_cpu "$pid")
    [[ $SERVER_PER_RUN == 1 ]] && stop_server
    # The loaded period and the load generator's CPU, from its summary.
    read -r lg_cpu wall < <(sed -n 's/.*load generator CPU \([0-9.]*\) s over \([0-9.]*\) s.*/\1 \2/p' "$data/loadgen.err")
    others=$(awk -v b="$busy1" -v a="$busy0" -v s1="$server1" -v s0="$server0" -v l="$lg_cpu" -v w="$wall" \
        'BEGIN {printf "%.2f", ((b-a)-(s1-s0)-l)/w}')
    cores=$(awk -v s1="$server1" -v s0="$server0" -v l="$lg_cpu" -v w="$wall" -v o="$others" \
        'BEGIN {printf "server %.2f, load generator %.2f, others %.2f cores", (s1-s0)/w, l/w, o}')
}

for run in $(seq "$RUNS"); do
    for c in health v1 v3; do
        for attempt in $(seq 0 "$RETRIES"); do
            measure_once "$c"
            awk -v o="$others" -v m="$MAX_OTHERS" 'BEGIN {exit !(o <= m)}' && break
            echo "$c (disturbed: others used $others cores) $line" >&2
        done
        echo "$c $line  # $cores" | tee -a "$out" >&2
    done
done
stop_server

field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
others() { sed -n 's/.*others \(-\{0,1\}[0-9.]*\) cores.*/\1/p'; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
health=$(grep '^health ' "$out" | field requests_per_second | median)
printf '%-8s %14s %10s %10s %10s %8s %10s %14s\n' case "median req/s" "p50 ms" "p90 ms" "p99 ms" errors "× health" "others (max)"
for c in health v1 v3; do
    rows=$(grep "^$c " "$out")
    rps=$(field requests_per_second <<<"$rows" | median)
    p50=$(field p50_ms <<<"$rows" | median)
    p90=$(field p90_ms <<<"$rows" | median)
    p99=$(field p99_ms <<<"$rows" | median)
    errors=$(field errors <<<"$rows" | awk '{s+=$1} END {print s}')
    ratio=$(awk -v a="$rps" -v h="$health" 'BEGIN {printf "%.3f", (h > 0 ? a / h : 0)}')
    busy_max=$(others <<<"$rows" | sort -g | tail -n 1)
    printf '%-8s %14.0f %10.3f %10.3f %10.3f %8d %10s %14s\n' "$c" "$rps" "$p50" "$p90" "$p99" "$errors" "$ratio" "$busy_max"
done
rm -rf "$data"
