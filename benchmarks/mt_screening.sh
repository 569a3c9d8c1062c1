#!/usr/bin/env bash
# Issue 12 screening: short runs (MINUTES reference minutes, default 20) of the translation recipe with one
# change each, two seeds; one table row per run (updates, epochs, dev BLEU greedy (best epoch) and beam 5).
# Before every run it measures the machine (../shared/bench/speed-ref) and scales the budget by its factor.
#   bash benchmarks/mt_screening.sh [DATA_DIR] [MINUTES] [SEEDS]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-20}
SEEDS=${3:-"1 2"}
REF=${REF:-../shared/bench/speed-ref}
WS=${WS:-$(mktemp -d)}
mkdir -p "$WS"
DATA=(--src "$D/train.en" --tgt "$D/train.ja" --dev-src "$D/dev.en" --dev-tgt "$D/dev.ja" --threads 2 --epochs 1000)
declare -A RECIPES=(
    [default]=""
    [linear]="--schedule linear"
    [cosine]="--schedule cosine"
    [linear-drop0.3]="--schedule linear --dropout 0.3"
    [linear-attdrop0.1]="--schedule linear --attention-dropout 0.1 --activation-dropout 0.1"
    [linear-worddrop0.1]="--schedule linear --source-word-dropout 0.1"
    [linear-ls0.2]="--schedule linear --label-smoothing 0.2"
    [linear-adamw0.01]="--schedule linear --optimizer adamw --weight-decay 0.01"
    [linear-ema0.999]="--schedule linear --ema 0.999"
    [linear-all]="--schedule linear --dropout 0.3 --attention-dropout 0.1 --activation-dropout 0.1 --source-word-dropout 0.1 --optimizer adamw --weight-decay 0.01 --ema 0.999"
)
echo "| recipe | seed | factor | minutes | updates | epochs | dev BLEU greedy | dev BLEU beam 5 | tokens/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for recipe in "${!RECIPES[@]}"; do
    for seed in $SEEDS; do
        factor=$(python3 "$REF" | sed -n 's/.*reference: \([0-9.]*\).*/\1/p')
        minutes=$(python3 -c "print(round($MIN * $factor, 1))")
        name="$recipe-s$seed"
        # shellcheck disable=SC2086
        seqtool -w "$WS" train-mt "${DATA[@]}" --max-minutes "$minutes" --seed "$seed" --name "$name" \
            ${RECIPES[$recipe]} --json > "$WS/$name.json"
        seqtool -w "$WS" evaluate mt --model "$name" --beam 5 --threads 2 --json > "$WS/$name.beam.json"
        python3 -c "
import json; r = json.load(open('$WS/$name.json')); b = json.load(open('$WS/$name.beam.json'))
print(f\"| $recipe | $seed | $factor | $minutes | {r['steps']} | {r['epochs']} | {r['best']['value']:.2f} | {b['bleu']:.2f} | {r['tokens_per_s']:,.0f} |\")"
    done
done
echo "workspace: $WS"
