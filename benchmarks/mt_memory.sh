#!/usr/bin/env bash
# Issue 12 memory: where does train-mt's peak RSS go? Short runs of the default recipe started together (one
# thread each, same seed, same data), one per variant of the process environment, each sampled every 10 s for
# RSS; prints peak RSS and tokens/s of every variant. A variant is NAME=ENV (space-separated VAR=VALUE pairs,
# "-" for none), e.g. oneDNN's primitive cache at its default capacity (1,024 kernels, one per input shape) or
# glibc's malloc with a fixed mmap threshold (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...; with
# SEQTOOL_ALLOCATOR=system, since seqtool otherwise restarts with tcmalloc where it is installed), another
# allocator (LD_PRELOAD=...), or the output layer's loss in one piece (SEQTOOL_LOSS_CHUNK_ROWS=0).
#   bash benchmarks/mt_memory.sh [DATA_DIR] [MINUTES] [NAME=ENV ...]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-3}
shift 2 || true
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("seqtool-defaults=-" "glibc=SEQTOOL_ALLOCATOR=system")
WS=${WS:-$(mktemp -d)}
mkdir -p "$WS"
run() {
    local name=$1 spec=$2 pid
    [ "$spec" = - ] && spec=""
    # shellcheck disable=SC2086
    env $spec /usr/bin/time -f "$name: peak RSS %M KB, %e s" \
        seqtool -w "$WS" train-mt --src "$D/train.en" --tgt "$D/train.ja" --dev-src "$D/dev.en" \
        --dev-tgt "$D/dev.ja" --max-minutes "$MIN" --threads 1 --seed 1 --name "$name" --no-tune-decoding --json \
        > "$WS/$name.json" 2> "$WS/$name.err" &
    pid=$!
    while kill -0 "$pid" 2> /dev/null; do
        echo "$name $(date +%s) $(ps -o rss= --ppid "$pid" | head -n 1)" >> "$WS/rss.log"
        sleep 10
    done
    tail -n 1 "$WS/$name.err"
}
for v in "${VARIANTS[@]}"; do run "${v%%=*}" "${v#*=}" & done
wait
for v in "${VARIANTS[@]}"; do
    name=${v%%=*}
    python3 -c "import json; r = json.load(open('$WS/$name.json')); print('$name:', r['steps'], 'updates,', r['tokens_per_s'], 'tokens/s, best', r['best'])"
done
echo "RSS samples (KB): $WS/rss.log"
