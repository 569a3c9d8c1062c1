#!/usr/bin/env bash
# `seqtool score --reverse --keep`: how many deliberately misaligned pairs the dual cross-entropy filter finds.
# Trains an en->ja and a ja->en Transformer on the first N pairs of small_parallel_enja train (E epochs each),
# shuffles the targets of 10% of those pairs (a fixed seed), keeps the best 90% and counts the shuffled
# pairs removed. Usage: benchmarks/filter_bench.sh [N] [EPOCHS]
set -euo pipefail
N=${1:-20000}
EPOCHS=${2:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${DATA:-$ROOT/../shared/data/small_parallel_enja}
WORK=$(mktemp -d)
grep -m1 'model name' /proc/cpuinfo; grep -q avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"; uptime
head -n "$N" "$DATA/train.en" > "$WORK/train.en"; head -n "$N" "$DATA/train.ja" > "$WORK/train.ja"
small=(--layers 2 --emb-dim 256 --ff-dim 1024 --heads 4 --epochs "$EPOCHS" --threads 2 --workspace "$WORK/ws")
/usr/bin/time -f "en-ja trained in %e s" python3 -m seqtool train-mt --src "$WORK/train.en" --tgt "$WORK/train.ja" \
    --dev-src "$DATA/dev.en" --dev-tgt "$DATA/dev.ja" --name fwd "${small[@]}" > /dev/null
/usr/bin/time -f "ja-en trained in %e s" python3 -m seqtool train-mt --src "$WORK/train.ja" --tgt "$WORK/train.en" \
    --dev-src "$DATA/dev.ja" --dev-tgt "$DATA/dev.en" --src-lang ja --tgt-lang en --name bwd "${small[@]}" > /dev/null
python3 - "$WORK" <<'PY'
import random, sys
from pathlib import Path
work = Path(sys.argv[1])
tgt = (work / "train.ja").read_text(encoding="utf-8").splitlines()
rng = random.Random(1)
picked = sorted(rng.sample(range(len(tgt)), len(tgt) // 10))
moved = picked[1:] + picked[:1]  # each picked line gets another picked line's target: all misaligned
noisy = list(tgt)
for a, b in zip(picked, moved):
    noisy[a] = tgt[b]
(work / "noisy.ja").write_text("".join(t + "\n" for t in noisy), encoding="utf-8")
(work / "shuffled.txt").write_text("".join(f"{i + 1}\n" for i in picked))
PY
/usr/bin/time -f "scored and filtered in %e s" python3 -m seqtool score -m fwd --reverse bwd --src "$WORK/train.en" \
    --hyp "$WORK/noisy.ja" --keep 0.9 --out "$WORK/kept" --json --workspace "$WORK/ws" --engine torch > "$WORK/kept.json"
python3 - "$WORK" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
kept = set(json.loads((work / "kept.json").read_text())["kept_lines"])
shuffled = [int(x) for x in (work / "shuffled.txt").read_text().split()]
removed = sum(1 for line in shuffled if line not in kept)
print(f"shuffled pairs: {len(shuffled)}, removed by keeping the best 90%: {removed} ({removed / len(shuffled):.1%})")
PY
for m in fwd bwd; do python3 -c "import json; c=json.load(open('$WORK/ws/models/$m/config.json')); print('$m', c['best'])"; done
rm -rf "$WORK"
