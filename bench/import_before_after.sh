#!/bin/sh
# Register import before and after, in one run on one machine: the code of BEFORE (a commit,
# default the one before the set-based import) is unpacked into a temporary folder and measured
# by the same bench as the working tree. Usage (from the repository's root):
#   nice -n 10 sh bench/import_before_after.sh [BEFORE] [POSTGRES_URL] [RESIDENTS] [REPEAT]
set -e
before=${1:-69863e6}
pg=${2:-postgresql://postgres@127.0.0.1:5432/alerting_bench}
residents=${3:-100000}
repeat=${4:-3}
dir=$(mktemp -d)
git archive "$before" alerting | tar -x -C "$dir"
for url in sqlite:////tmp/alerting-bench-import.db "$pg"; do
    .venv/bin/python -m bench.bench_import --residents "$residents" --repeat "$repeat" \
        --database-url "$url" --code "$dir" --label "before ($before)"
    .venv/bin/python -m bench.bench_import --residents "$residents" --repeat "$repeat" \
        --database-url "$url" --label after
done
rm -rf "$dir"
