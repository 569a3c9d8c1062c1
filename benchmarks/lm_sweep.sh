#!/usr/bin/env bash
# Issue 29: sweep the 10-minute LSTM LM recipe with `seqtool sweep`, then train the sweep's best run file and
# the default recipe side by side for the full budget (both at once, one thread each: the protocol of
# benchmarks/lm_vs_example.sh, whose default run measured dev per-word perplexity 17.34).
#
#   bash benchmarks/lm_sweep.sh ../shared/data/small_parallel_enja 40 3 10
#   (data folder, sweep budget minutes, minutes per trial, minutes of the final runs; scale by speed-ref)
set -euo pipefail
D=$(realpath "${1:-../shared/data/small_parallel_enja}")
BUDGET=${2:-40}
TRIAL=${3:-3}
FINAL=${4:-10}
WS=${WS:-/tmp/lm-sweep-ws}
mkdir -p "$WS"
source "$(dirname "$0")/sweep_finals.sh"
machine
cat > "$WS/base.yaml" <<YAML
cell: lstm
layers: 2
emb-dim: 256
hidden: 256
tie-weights: true
train: $D/train.en
dev: $D/dev.en
YAML
cat > "$WS/space.yaml" <<'YAML'
lr: {low: 5, high: 60, log: true}
dropout: {low: 0.1, high: 0.5}
clip-norm: {low: 0.1, high: 2.0, log: true}
batch-size: [350, 700, 1400]
bptt: [35, 70]
YAML
sweep_then_finals train-lm
[[ -n ${SWEEP_ONLY:-} ]] && { sweep_summary; exit 0; }
sweep_summary
python3 - "$WS" "best-s${SEED:-1}" "default-s${SEED:-1}" <<'PY'
import json, sys
ws = sys.argv[1]
for name in sys.argv[2:]:
    r = json.load(open(f"{ws}/{name}.json"))
    print(f"{name}: dev per-word perplexity {r['best']['value']:.2f} (epoch {r['best']['epoch']}), "
          f"{r['tokens_per_s']:,.0f} tokens/s, {r['epochs']} epochs")
PY
