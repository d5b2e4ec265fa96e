#!/bin/sh
# Runs one libFuzzer target for a bounded time over its seed corpus.
# New inputs go to a scratch corpus in the build tree, never the source tree.
# usage: run-fuzz.sh TARGET SEED_DIR WORK_DIR SECONDS
set -eu
target=$1 seeds=$2 work=$3 secs=$4
mkdir -p "$work/corpus" "$work/artifacts"
exec "$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$seeds"
