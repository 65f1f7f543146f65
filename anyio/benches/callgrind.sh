#!/usr/bin/env bash
# Instructions per operation of one bench case, both sides, under callgrind.
#
#   anyio/benches/callgrind.sh CASE CONFIG [SIZE]
#   e.g. anyio/benches/callgrind.sh spawn tokio-ct
#
# CASE is a case id (`ANYIO_BENCH_LIST=1` on a bench binary lists them), CONFIG one of
# tokio-ct, tokio-2, smol-1, smol-2, SIZE the workload size (default: the case's).
#
# Method: the bench binary built by `cargo bench --no-run --all-features` runs the case's
# body once (`ANYIO_BENCH_SIDE`), under `valgrind --tool=callgrind`, at SIZE and at SIZE/5
# operations; the difference of the total instruction counts (every thread) divided by the
# difference of the sizes is the cost of one operation, with the setup (runtime, threads,
# the process itself) subtracted out.
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,14p' "$0"
    exit 2
fi
case_id=$1
config=$2
cd "$(dirname "$0")/../.."

case "$case_id" in
    spawn | timers | parked-memory | checkpoints | yields | cancel-scope) bench=core ;;
    semaphore | event | lock | mutex | semaphore-fifo | lock-fifo) bench=sync ;;
    memory-*) bench=memory ;;
    tcp-*) bench=net ;;
    buffered-*) bench=streams ;;
    udp-* | unix-dgram-*) bench=dgram ;;
    compat-*) bench=compat ;;
    to_thread | to_thread-seq | portal) bench=threads ;;
    *)
        echo "unknown case $case_id" >&2
        exit 2
        ;;
esac

exe=$(cargo bench -p anyio --no-run --all-features --bench "$bench" --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
size=${3:-$(ANYIO_BENCH_LIST=1 "$exe" | awk -v c="$case_id" '$1 == c { print $2 }')}
small=$((size / 5))

# Total instructions of one run of side $1 at size $2.
instructions() {
    local log
    log=$(mktemp)
    ANYIO_BENCH_CASE=$case_id ANYIO_BENCH_CONFIG=$config ANYIO_BENCH_SIDE=$1 \
        ANYIO_BENCH_SIZE=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$exe" >/dev/null 2>"$log"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
    rm -f "$log"
}

for side in raw anyio; do
    big=$(instructions "$side" "$size")
    little=$(instructions "$side" "$small")
    per_op=$(((big - little) / (size - small)))
    echo "$case_id $config $side: $per_op instructions/op (Ir $big at n=$size, $little at n=$small)"
done
