#!/usr/bin/env bash
# Issue 29: sweep the default en->ja Transformer recipe with `seqtool sweep train-mt`, then train the sweep's
# best run file and the default recipe side by side for the full budget (both at once, one thread each, the
# same seed), and score both the same way: `evaluate mt` with beam 5 on dev (sacrebleu, tokenize none: the
# references are segmented).
#
#   bash benchmarks/mt_sweep.sh ../shared/data/small_parallel_enja 60 10 60 [SEED]
#   (data folder, sweep budget minutes, minutes per trial, minutes of the final runs; scale by speed-ref)
#   SWEEP_ONLY=1 ... / RESUME=1 ...: a sweep in parts (see sweep_finals.sh)
#
# The space leaves out --warmup: in a 10-minute trial (~460 updates on one thread, measured) the budget-aware
# cap (a quarter of the planned updates, training/schedule.py) cuts every warm-up of ~115+ steps to ~115, so
# the trials could not tell warm-ups apart.
set -euo pipefail
D=$(realpath "${1:-../shared/data/small_parallel_enja}")
BUDGET=${2:-60}
TRIAL=${3:-10}
FINAL=${4:-60}
SEED=${5:-1}
WS=${WS:-/tmp/mt-sweep-ws}
mkdir -p "$WS"
source "$(dirname "$0")/sweep_finals.sh"
machine
cat > "$WS/base.yaml" <<YAML
src: $D/train.en
tgt: $D/train.ja
dev-src: $D/dev.en
dev-tgt: $D/dev.ja
seed: $SEED
YAML
cat > "$WS/space.yaml" <<'YAML'
lr: {low: 1.0e-3, high: 4.0e-3, log: true}
dropout: {low: 0.0, high: 0.3}
label-smoothing: {low: 0.0, high: 0.2}
layers: [2, 3, 4]
src-vocab: [4000, 8000, 16000]
tgt-vocab: [4000, 8000, 16000]
YAML
sweep_then_finals train-mt
[[ -n ${SWEEP_ONLY:-} ]] && { sweep_summary; exit 0; }
for name in "best-s$SEED" "default-s$SEED"; do
    seqtool -w "$WS" evaluate mt --model "$name" --src "$D/dev.en" --ref "$D/dev.ja" --beam 5 --threads 2 --json \
        > "$WS/$name.eval.json"
done
sweep_summary
python3 - "$WS" "best-s$SEED" "default-s$SEED" <<'PY'
import json, sys
ws = sys.argv[1]
for name in sys.argv[2:]:
    r = json.load(open(f"{ws}/{name}.json"))
    e = json.load(open(f"{ws}/{name}.eval.json"))
    print(f"{name}: own dev BLEU {r['best']['value']:.2f} (epoch {r['best']['epoch']}), {r['epochs']} epochs, "
          f"{r['tokens_per_s']:,.0f} tokens/s; beam 5: BLEU {e['bleu']}, chrF {e['chrf']} | {e['signatures']['bleu']}")
PY
