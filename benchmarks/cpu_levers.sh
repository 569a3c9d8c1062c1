#!/usr/bin/env bash
# Issue 30: two training-speed levers on a 2-core CPU, measured against the default layout, each run alone:
#   default   one process x 2 threads, 4,096-token batches
#   procs     torchrun, 2 processes x 1 thread, 2,048 tokens each: the same 4,096-token global batch, the same
#             updates per epoch (gloo all-reduce of the gradients every step)
#   compile   one process x 2 threads with the training step's forward under torch.compile (inductor,
#             dynamic shapes; SEQTOOL_COMPILE=1)
# The default Transformer recipe on small_parallel_enja en->ja for MINUTES each, no decoding tuning. With
# AVX2=1 the run is limited to AVX2 (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA): --precision auto then trains in
# fp32, as on an AVX2-only laptop. Prints steps, target tokens/s of the training (evaluation excluded) and
# the dev BLEU (greedy, per epoch) that each run reached.
#
#   AVX2=1 bash benchmarks/cpu_levers.sh ../shared/data/small_parallel_enja 3 [default procs compile]
set -euo pipefail
D=$(realpath "${1:-../shared/data/small_parallel_enja}")
MINUTES=${2:-3}
shift 2 || true
LAYOUTS=${*:-default procs compile}
WORK=${WORK:-/tmp/levers}
mkdir -p "$WORK"
if [ "${AVX2:-0}" = 1 ]; then
    export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
fi
grep -m1 "model name" /proc/cpuinfo
grep -q avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"
python3 -c "import torch; print('torch CPU capability:', torch.backends.cpu.get_cpu_capability())"
common=(--src "$D/train.en" --tgt "$D/train.ja" --dev-src "$D/dev.en" --dev-tgt "$D/dev.ja"
        --max-minutes "$MINUTES" --no-tune-decoding --json)
for layout in $LAYOUTS; do
    uptime
    ws="$WORK/ws-$layout"
    rm -rf "$ws"
    case $layout in
        default) seqtool -w "$ws" train-mt "${common[@]}" --threads 2 --name m > "$WORK/$layout.json" ;;
        procs) OMP_NUM_THREADS=1 torchrun --standalone --nproc-per-node 2 -m seqtool -w "$ws" train-mt \
                   "${common[@]}" --threads 1 --batch-size 2048 --name m > "$WORK/$layout.json" ;;
        compile) SEQTOOL_COMPILE=1 seqtool -w "$ws" train-mt "${common[@]}" --threads 2 --name m \
                   > "$WORK/$layout.json" ;;
        *) echo "unknown layout $layout"; exit 2 ;;
    esac
    python3 - "$ws/models/m" "$layout" <<'PY'
import json, sys
folder, layout = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(f"{folder}/metrics.jsonl")]
bleu = ", ".join(f"{r['dev_bleu']:.2f}@{r['epoch']}" for r in rows)
rates = ", ".join(f"{r['tokens_per_s']:,.0f}" for r in rows)  # training only: each row's epoch, evaluation excluded
print(f"{layout}: steps {rows[-1]['step']}, training target tokens/s by epoch {rates}, dev BLEU by epoch {bleu}")
PY
done
uptime
