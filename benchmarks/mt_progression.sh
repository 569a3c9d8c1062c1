#!/usr/bin/env bash
# The course's progression on small_parallel_enja dev, each model trained for at most EPOCHS epochs:
# GRU encoder-decoder (the course's baseline: 1 layer, 256/256, final encoder state as the context)
# -> the same with Bahdanau attention. The Transformer row of the table comes from mt_quality.sh.
# Prints, per model, the training summary and dev BLEU/chrF/TER with beam 5 (sacrebleu, tokenize none);
# `seqtool models list` at the end gives the parameter counts.
#   bash benchmarks/mt_progression.sh [DATA_DIR] [EPOCHS]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
EPOCHS=${2:-10}
WS=${WS:-$(mktemp -d)}
for spec in "gru-seq2seq:none" "gru-bahdanau:bahdanau"; do
    name=${spec%%:*}
    seqtool -w "$WS" train-mt --src "$D/train.en" --tgt "$D/train.ja" --dev-src "$D/dev.en" --dev-tgt "$D/dev.ja" \
        --arch gru --attention "${spec#*:}" --epochs "$EPOCHS" --threads 2 --name "$name" --json
    seqtool -w "$WS" evaluate mt --model "$name" --src "$D/dev.en" --ref "$D/dev.ja" --beam 5 --threads 2 --json
done
seqtool -w "$WS" models list
echo "workspace: $WS"
