#!/bin/sh
# NBD server throughput: our qemu-nbd against QEMU's, same image, same run.
# nbdcopy reads the whole export to null: with 1 and 4 connections (the
# servers run with -e 4, so both advertise multi-conn), over a Unix socket
# and over TCP on 127.0.0.1.  Prints MiB/s of each and ours/QEMU's ratio
# (> 1: we are faster).  Best of REPS runs.
#
# usage: tests/bench/bench_nbd.sh [BUILD_DIR] [SIZE_MIB] [REPS]
set -eu
build=${1:-build}
size_mib=${2:-512}
reps=${3:-3}
ours=$(realpath "$build/tools/qemu-nbd/qemu-nbd")
theirs=/usr/bin/qemu-nbd
work=$(mktemp -d /tmp/qx-bench-nbd-XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Fully allocated, incompressible image: every byte goes over the wire.
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/img.raw"

now_ns() { date +%s%N; }

# start NAME BINARY -> sets $uri_unix_NAME and $uri_tcp_NAME
start() {
    name=$1 bin=$2
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" -t -r -e 4 -f raw -k "$work/$name.sock" "$work/img.raw" &
    pids="$pids $!"
    "$bin" -t -r -e 4 -f raw -b 127.0.0.1 -p "$port" "$work/img.raw" &
    pids="$pids $!"
    eval "uri_unix_$name=\"nbd+unix:///?socket=$work/$name.sock\""
    eval "uri_tcp_$name=\"nbd://127.0.0.1:$port/\""
    for i in $(seq 100); do
        [ -S "$work/$name.sock" ] && nbdinfo --size "nbd://127.0.0.1:$port/" \
            >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server $name did not start" >&2
    exit 1
}

# best_mibs URI CONNECTIONS -> MiB/s of the fastest of $reps copies
best_mibs() {
    best=0
    for r in $(seq "$reps"); do
        t0=$(now_ns)
        nbdcopy --connections="$2" --requests=16 "$1" null:
        t1=$(now_ns)
        mibs=$(( size_mib * 1000000000 / (t1 - t0) ))
        [ "$mibs" -gt "$best" ] && best=$mibs
    done
    echo "$best"
}

start qx "$ours"
start ref "$theirs"

printf '%-8s %-6s %12s %12s %8s\n' transport conns "qx MiB/s" "qemu MiB/s" ratio
for transport in unix tcp; do
    for conns in 1 4; do
        eval "u_qx=\$uri_${transport}_qx"
        eval "u_ref=\$uri_${transport}_ref"
        a=$(best_mibs "$u_qx" "$conns")
        b=$(best_mibs "$u_ref" "$conns")
        ratio=$(python3 -c "print(f'{$a / max($b, 1):.2f}')")
        printf '%-8s %-6s %12s %12s %8s\n' "$transport" "$conns" "$a" "$b" \
            "$ratio"
    done
done
