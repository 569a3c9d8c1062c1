#!/usr/bin/env bash
# Issue 30: one prepared check for a GPU machine. Run it whenever a GPU is at hand (the device tool, or your
# own card); put its figures in docs/benchmarks.md with the card's name. Nothing in CI needs a GPU.
#
#   bash benchmarks/gpu_check.sh [DATA_DIR] [TRAIN_MINUTES]
#     DATA_DIR: small_parallel_enja's folder (train/dev .en/.ja) [default: ../shared/data/small_parallel_enja,
#               else the sample pairs]; TRAIN_MINUTES: the train-mt budget [default: 10]
#
# It prints: the card (nvidia-smi), torch's view of it (bf16 support), the quick demo on the GPU, a
# train-mt run with bf16 autocast (target tokens/s, dev BLEU), JoeyNMT's tokens/s on the same card when
# `joeynmt` is importable (its config from ../shared/bench/joeynmt, same Transformer size), and `translate`
# of the dev set on torch (GPU) and on CTranslate2 (GPU, float16 where the card has it).
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
DATA=${1:-$HERE/../shared/data/small_parallel_enja}
[ -f "$DATA/train.en" ] || DATA=$HERE/sample_data/enja
MINUTES=${2:-10}
WS=${WS:-$(mktemp -d)/ws}
OUT=${OUT:-$(dirname "$WS")}
echo "== machine"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || exit 2
grep -m1 "model name" /proc/cpuinfo; nproc
python3 - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0),
      "bf16", torch.cuda.is_bf16_supported())
PY

echo "== demo (--quick) on the GPU"
/usr/bin/time -f "demo wall %e s" seqtool -w "$WS" demo --quick > "$OUT/demo.log" 2>&1; tail -3 "$OUT/demo.log"

echo "== train-mt, $MINUTES minutes, bf16 autocast (--precision auto on a GPU with bf16)"
seqtool -w "$WS" train-mt --src "$DATA/train.en" --tgt "$DATA/train.ja" --dev-src "$DATA/dev.en" \
    --dev-tgt "$DATA/dev.ja" --max-minutes "$MINUTES" --device cuda --name gpu-mt --json \
    > "$OUT/train.json" 2> "$OUT/train.log"
python3 - "$OUT/train.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"train-mt: {r['tokens_per_s']:,.0f} target tokens/s, {r['epochs']} epochs, best dev BLEU {r['best']['value']:.2f}, "
      f"tuned: {(r.get('decoding') or {}).get('dev_bleu')}")
PY

if python3 -c "import joeynmt" 2> /dev/null; then
    echo "== JoeyNMT 2.3.0, same card, $MINUTES minutes (its log's tokens/s)"
    CFG=$(mktemp --suffix .yaml)
    sed "s#../shared/data/small_parallel_enja#$DATA#g; s#use_cuda: False#use_cuda: True#" \
        "$HERE/../shared/bench/joeynmt/transformer_enja.yaml" > "$CFG"
    timeout "$((MINUTES * 60))" python3 -m joeynmt train "$CFG" > "$OUT/joeynmt.log" 2>&1
    grep -Eo "[0-9.]+ tokens/sec|Tokens per Sec: *[0-9.]+" "$OUT/joeynmt.log" | tail -3
else
    echo "== JoeyNMT: not installed here (pip install joeynmt==2.3.0 in a scratch venv to compare)"
fi

echo "== translate the dev set: torch on the GPU, then CTranslate2 on the GPU"
for engine in torch ctranslate2; do
    if [ "$engine" = ctranslate2 ]; then seqtool -w "$WS" export gpu-mt --quantize float32 --force > /dev/null; fi
    /usr/bin/time -f "$engine: %e s for $(wc -l < "$DATA/dev.en") sentences" seqtool -w "$WS" translate -m gpu-mt \
        --engine "$engine" --device cuda -i "$DATA/dev.en" -o "$OUT/dev.$engine.ja" > /dev/null
done
seqtool -w "$WS" evaluate bleu --hyp "$OUT/dev.torch.ja" --ref "$DATA/dev.ja" --json | python3 -c \
    "import json,sys; print('torch BLEU (display text vs refs):', json.load(sys.stdin)['bleu'])"
echo "outputs in $OUT"
