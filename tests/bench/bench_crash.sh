#!/bin/sh
# Crash consistency, long run: 1000 kill -9 trials of our qemu-io writing a
# qcow2 image (make check runs 100).  Needs QX_BUILD_DIR (tests/bench/run-all
# sets it).
set -eu
here=$(dirname "$0")
QX_CRASH_TRIALS=${QX_CRASH_TRIALS:-1000} exec /usr/bin/python3 -m pytest \
    -q -p no:cacheprovider "$here/../functional/test_crash_consistency.py" \
    -k our_writer
