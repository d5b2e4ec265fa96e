#!/usr/bin/python3
"""qemu-img convert: our binary against QEMU 7.2's on the same input.

Input: a 1 GiB raw image, half random data, a tenth explicit zeroes, the
rest holes (interleaved in 10 MiB groups: 5 MiB data, 1 MiB zeroes, 4 MiB
hole).  Converts raw->raw and raw->qcow2 (when our qemu-img lists qcow2)
with each tool, alternately, several runs each; prints the median wall
time of each and the ratio ours/QEMU's (< 1: we are faster), and checks
that both outputs have the same contents.

    tests/bench/bench_convert.py [BUILD_DIR] [--runs N] [--size-mib M]
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

QEMU_IMG = "/usr/bin/qemu-img"
MIB = 1 << 20


def make_input(path, size_mib):
    """Writes the mixed image; returns its size in bytes."""
    chunk = os.urandom(MIB)
    with open(path, "wb") as f:
        for group in range(size_mib // 10):
            base = group * 10 * MIB
            f.seek(base)
            for i in range(5):
                # vary the data so that no two MiB are equal
                f.write(bytes([group & 0xff, i]) + chunk[2:])
            f.write(b"\0" * MIB)
        f.truncate(size_mib * MIB)
    return size_mib * MIB


def timed(args):
    start = time.monotonic()
    res = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if res.returncode != 0:
        sys.exit(f"{args} failed ({res.returncode}): {res.stderr}")
    return elapsed


def formats(binary):
    out = subprocess.run([binary, "--help"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        if line.startswith("Supported formats:"):
            return line.split(":", 1)[1].split()
    return []


def bench(ours, work, src, out_fmt, runs):
    times = {"qemu": [], "qx": []}
    outs = {}
    for _ in range(runs):
        for kind, binary in (("qemu", QEMU_IMG), ("qx", ours)):
            out = work / f"out-{kind}.{out_fmt}"
            if out.exists():
                out.unlink()
            times[kind].append(timed([binary, "convert", "-f", "raw", "-O",
                                      out_fmt, src, out]))
            outs[kind] = out
    res = subprocess.run([QEMU_IMG, "compare", "-f", out_fmt, "-F", out_fmt,
                          outs["qemu"], outs["qx"]], capture_output=True,
                         text=True)
    if res.returncode != 0:
        sys.exit(f"outputs differ: {res.stdout}{res.stderr}")
    q = statistics.median(times["qemu"])
    o = statistics.median(times["qx"])
    alloc = {k: os.stat(v).st_blocks * 512 // MIB for k, v in outs.items()}
    print(f"convert raw->{out_fmt:6s} QEMU {q:7.3f} s   ours {o:7.3f} s   "
          f"ratio ours/QEMU {o / q:5.2f}   "
          f"(allocated MiB: QEMU {alloc['qemu']}, ours {alloc['qx']})")
    for v in outs.values():
        v.unlink()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", nargs="?", default="build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    ours = str(pathlib.Path(args.build).resolve() / "tools/qemu-img/qemu-img")
    if not os.access(ours, os.X_OK):
        sys.exit(f"{ours} is not built")
    work = pathlib.Path(tempfile.mkdtemp(prefix="qx-bench-convert-"))
    try:
        src = work / "in.raw"
        size = make_input(src, args.size_mib)
        print(f"input: {size // MIB} MiB raw (50% data, 10% zeroes, 40% "
              f"holes), median of {args.runs} runs each")
        bench(ours, work, src, "raw", args.runs)
        if "qcow2" in formats(ours):
            bench(ours, work, src, "qcow2", args.runs)
        else:
            print("convert raw->qcow2: skipped (our qemu-img has no qcow2)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
