#!/usr/bin/env bash
# Language-model benchmark: a 2-layer LSTM (emb/hidden 256, tied) trained for 10 minutes on train.en,
# per-word dev perplexity and training throughput; then peak RSS on train.en vs the corpus repeated 10x.
#   bash benchmarks/lm_quality.sh [DATA_DIR] [MINUTES]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-10}
WS=${WS:-$(mktemp -d)}
mkdir -p "$WS"
seqtool -w "$WS" train-lm --cell lstm --layers 2 --emb-dim 256 --hidden 256 --tie-weights \
    --train "$D/train.en" --dev "$D/dev.en" --epochs 1000 --patience 1000 --max-minutes "$MIN" --threads 2 --name lstm10 --json
seqtool -w "$WS" evaluate lm --model lstm10 --data "$D/dev.en" --json
if [ "${RSS:-1}" = 1 ]; then
    for i in 1 2 3 4 5 6 7 8 9 10; do cat "$D/train.en"; done > "$WS/train10x.en"
    /usr/bin/time -f "train.en: peak RSS %M KB" seqtool -w "$WS" train-lm --train "$D/train.en" --dev "$D/dev.en" \
        --epochs 1 --max-minutes 1 --threads 2 --name rss1 > /dev/null
    /usr/bin/time -f "train.en x10: peak RSS %M KB" seqtool -w "$WS" train-lm --train "$WS/train10x.en" --dev "$D/dev.en" \
        --epochs 1 --max-minutes 1 --threads 2 --name rss10 > /dev/null
fi
echo "workspace: $WS"
