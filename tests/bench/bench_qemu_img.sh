#!/bin/sh
# qemu-img: our binary against QEMU's (/usr/bin/qemu-img), same inputs, same
# run.  Prints the wall time of each and ours/QEMU's time ratio (< 1: we are
# faster).  Best of REPS runs per line.
#
#   convert raw -> qcow2, qcow2 -> raw    source: half random data, a tenth
#                                         explicit zeroes, the rest holes
#   convert qcow2 -> qcow2 -c zstd        compressible (text-like) data
#   bench 4 KiB reads / writes, depth 64  qcow2, -i io_uring -t none; qemu-img
#                                         bench has no random mode, so the
#                                         step is 4 KiB * a prime (40009):
#                                         offsets scatter over the image
#
# usage: tests/bench/bench_qemu_img.sh [BUILD_DIR] [REPS]
# environment: QX_BENCH_SIZE (default 1G; the issue's figure is 4G),
#              QX_BENCH_DIR (scratch directory, default a new one in /tmp),
#              QX_BENCH_COUNT (requests per bench run, default 200000)
set -eu
build=${1:-build}
reps=${2:-1}
size=${QX_BENCH_SIZE:-1G}
count=${QX_BENCH_COUNT:-200000}
ours=$(realpath "$build/tools/qemu-img/qemu-img")
theirs=/usr/bin/qemu-img
work=$(mktemp -d "${QX_BENCH_DIR:-/tmp}/qx-bench-img-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

bytes=$(python3 -c "
import sys
s = sys.argv[1].upper()
units = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
print(int(s[:-1]) * units[s[-1]] if s[-1] in units else int(s))" "$size")

# Source images, written once.
python3 - "$work" "$bytes" <<'EOF'
import os, random, sys
work, size = sys.argv[1], int(sys.argv[2])
chunk = 1 << 20
rng = random.Random(1)
with open(f"{work}/mixed.raw", "wb") as f:
    for i in range(size // chunk):
        kind = i % 10
        if kind < 5:
            f.seek(i * chunk)
            f.write(os.urandom(chunk))
        elif kind == 5:
            f.seek(i * chunk)
            f.write(bytes(chunk))
    f.truncate(size)
words = [b"error", b"info", b"request", b"block", b"qcow2", b"cluster",
         b"0x%08x" % 0, b"completed", b"offset", b"=", b"\n"]
block = b" ".join(rng.choice(words) for _ in range(chunk // 6))[:chunk]
with open(f"{work}/text.raw", "wb") as f:
    for i in range(size // chunk):
        f.write(block[i % 97:] + block[:i % 97])
EOF
"$theirs" convert -O qcow2 "$work/text.raw" "$work/text.qcow2"
"$theirs" convert -O qcow2 "$work/mixed.raw" "$work/mixed.qcow2"
rm -f "$work/text.raw"

now_ns() { date +%s%N; }

# best_ms BINARY ARGS... -> milliseconds of the fastest of $reps runs, or
# FAIL when the command fails (its stderr is shown once).
best_ms() {
    best=""
    for r in $(seq "$reps"); do
        rm -f "$work/out.img"
        sync
        t0=$(now_ns)
        if ! "$@" >/dev/null 2>"$work/err"; then
            echo "  $(basename "$(dirname "$1")")/$(basename "$1"):" \
                "$(head -c 200 "$work/err")" >&2
            echo FAIL
            return
        fi
        t1=$(now_ns)
        ms=$(( (t1 - t0) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}

line() {
    label=$1
    shift
    a=$(best_ms "$ours" "$@")
    b=$(best_ms "$theirs" "$@")
    if [ "$a" = FAIL ] || [ "$b" = FAIL ]; then
        printf '%-44s ours %8s ms  qemu %8s ms  ratio -\n' "$label" "$a" "$b"
    else
        ratio=$(python3 -c "print(f'{$a / max($b, 1):.2f}')")
        printf '%-44s ours %8s ms  qemu %8s ms  ratio %s\n' "$label" "$a" \
            "$b" "$ratio"
    fi
}

# bench_line LABEL ARGS...: each tool gets a fresh copy of the qcow2 image.
bench_line() {
    label=$1
    shift
    for who in ours theirs; do
        cp "$work/mixed.qcow2" "$work/bench-$who.qcow2"
    done
    a=$(best_ms "$ours" bench "$@" "$work/bench-ours.qcow2")
    b=$(best_ms "$theirs" bench "$@" "$work/bench-theirs.qcow2")
    if [ "$a" = FAIL ] || [ "$b" = FAIL ]; then
        printf '%-44s ours %8s ms  qemu %8s ms  ratio -\n' "$label" "$a" "$b"
    else
        ratio=$(python3 -c "print(f'{$a / max($b, 1):.2f}')")
        printf '%-44s ours %8s ms  qemu %8s ms  ratio %s\n' "$label" "$a" \
            "$b" "$ratio"
    fi
}

echo "qemu-img benchmark: image size $size, best of $reps, $(nproc) CPUs"
line "convert raw -> qcow2" convert -O qcow2 "$work/mixed.raw" \
    "$work/out.img"
line "convert qcow2 -> raw" convert -O raw "$work/mixed.qcow2" \
    "$work/out.img"
line "convert qcow2 -> qcow2 -c zstd (text)" convert -c -O qcow2 \
    -o compression_type=zstd "$work/text.qcow2" "$work/out.img"
step=$((4096 * 40009))
bench_line "bench read 4k qd64 io_uring none (${count})" -c "$count" -d 64 \
    -f qcow2 -i io_uring -t none -s 4k -S "$step"
bench_line "bench write 4k qd64 io_uring none (${count})" -w -c "$count" \
    -d 64 -f qcow2 -i io_uring -t none -s 4k -S "$step"
