#!/usr/bin/env bash
# Issue 13 recipes per cell: short screening runs (MINUTES each, 1 thread) of sentence vs stream batching,
# Adam vs SGD (high rate, clipping), plateau vs budget-aware linear decay; prints one table row per run
# (dev per-word perplexity, updates, tokens/s). The best per cell is then confirmed at 10 reference minutes.
#   bash benchmarks/lm_screening.sh [DATA_DIR] [MINUTES] [CELLS]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-2}
CELLS=${3:-"lstm gru rnn transformer"}
WS=${WS:-$(mktemp -d)}
mkdir -p "$WS"
COMMON=(--layers 2 --emb-dim 256 --hidden 256 --tie-weights --train "$D/train.en" --dev "$D/dev.en"
        --epochs 1000 --patience 1000 --max-minutes "$MIN" --threads 1 --json)
STREAM=(--batching stream --bptt 35 --batch-size 700)
run() {
    local name=$1; shift
    seqtool -w "$WS" train-lm "${COMMON[@]}" --name "$name" "$@" > "$WS/$name.json"
    python3 -c "
import json; r = json.load(open('$WS/$name.json'))
print(f\"| $name | $* | {r['best']['value']:.2f} | {r['steps']} | {r['tokens_per_s']:,.0f} |\")"
}
echo "| run | options | dev ppl | updates | tokens/s |"
echo "|---|---|---:|---:|---:|"
for cell in $CELLS; do
    run "$cell-sentences-plateau" --cell "$cell" --batching sentences
    run "$cell-sentences-linear" --cell "$cell" --batching sentences --schedule linear --warmup 100
    if [ "$cell" != transformer ]; then
        run "$cell-stream-adam-linear" --cell "$cell" "${STREAM[@]}" --schedule linear --warmup 100
        lr=20; [ "$cell" = rnn ] && lr=2  # the example's lr 20 diverges for plain RNNs
        run "$cell-stream-sgd-linear" --cell "$cell" "${STREAM[@]}" --schedule linear --warmup 0 --optimizer sgd \
            --lr "$lr" --clip-norm 0.25
        run "$cell-stream-adam-linear-jitter" --cell "$cell" "${STREAM[@]}" --bptt-jitter --schedule linear --warmup 100
    fi
done
echo "workspace: $WS"
