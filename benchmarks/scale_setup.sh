#!/usr/bin/env bash
# Issue 28, scale: train-mt's set-up (tokenizers + encoding) and training on a corpus of N pairs made from
# small_parallel_enja to look raw (Japanese spaces removed, English detokenized and capitalized), repeated
# to size, against the same recipe on the 50k corpus. Each run alone; peak RSS from /usr/bin/time -v.
#
#   bash benchmarks/scale_setup.sh ../shared/data/small_parallel_enja 2000000 [TRAIN_MINUTES]
#
# CORPORA=big runs only the N-pair corpus (default: "train big", the 50k one first). TRACE=1 also samples the
# run's resident memory every second into $WORK/CORPUS.rss ("seconds KB") and timestamps its stderr lines
# ($WORK/CORPUS.err), so the peak can be placed in a phase (sentencepiece training, encoding, training);
# a third column is the anonymous part (RssAnon: what cannot be paged out, unlike the memory-mapped cache).
# MEMORY_LIMIT=2G runs train-mt in a memory cgroup limited to that (cgroup v1, as root; no swap here): with
# a corpus bigger than the limit, it shows a corpus larger than the memory it may use trains, and how much
# the cgroup charged (page cache included) at most.
set -euo pipefail
D=$(realpath "${1:-../shared/data/small_parallel_enja}")
PAIRS=${2:-2000000}
MINUTES=${3:-1}
WORK=${WORK:-/tmp/scale}
mkdir -p "$WORK"
grep -m1 "model name" /proc/cpuinfo
grep -q avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"
python3 - "$D" "$WORK" "$PAIRS" <<'PY'
import re, sys
src, work, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def detok(line):
    s = line.strip()
    s = re.sub(r" (n't|'s|'re|'m|'ve|'ll|'d)\b", r"\1", s)   # do n't -> don't, it 's -> it's
    s = re.sub(r" ([.,!?;:%)])", r"\1", s)
    s = re.sub(r"\( ", "(", s)
    return s[:1].upper() + s[1:]
def raw_ja(line):
    return line.strip().replace(" ", "")
for part in ("train", "dev"):
    en = [detok(l) for l in open(f"{src}/{part}.en", encoding="utf-8")]
    ja = [raw_ja(l) for l in open(f"{src}/{part}.ja", encoding="utf-8")]
    with open(f"{work}/{part}.en", "w", encoding="utf-8") as f:
        f.writelines(s + "\n" for s in en)
    with open(f"{work}/{part}.ja", "w", encoding="utf-8") as f:
        f.writelines(s + "\n" for s in ja)
    if part == "train":
        with open(f"{work}/big.en", "w", encoding="utf-8") as fe, open(f"{work}/big.ja", "w", encoding="utf-8") as fj:
            for i in range(pairs):
                fe.write(en[i % len(en)] + "\n")
                fj.write(ja[i % len(ja)] + "\n")
print("example:", en[0], "|", ja[0])
PY
wc -l "$WORK/big.en" "$WORK/train.en"
ls -l "$WORK/big.en" "$WORK/big.ja" | awk '{sum += $5} END {printf "big corpus: %.2f GB of text\n", sum / 1e9}'
launch=()
if [ -n "${MEMORY_LIMIT:-}" ]; then
    cg=/sys/fs/cgroup/memory/seqtool-scale
    [ -d "$cg" ] && rmdir "$cg"  # a fresh cgroup: its counters (failcnt, oom_kill) are this run's
    mkdir "$cg"
    echo "$MEMORY_LIMIT" > "$cg/memory.limit_in_bytes"
    echo "memory limit: $(($(cat "$cg/memory.limit_in_bytes") / 1000000)) MB (cgroup $cg)"
    launch=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg")
fi
stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date +%s)" "$line"; done; }
for corpus in ${CORPORA:-train big}; do
    uptime
    rm -rf "$WORK/ws-$corpus"
    if [ "${TRACE:-0}" = 1 ]; then
        ( while sleep 1; do
              pids=$(pgrep -d, -f "ws-$corpus train-mt" || true)
              pid=$(ps -o pid=,rss= -p "$pids" 2>/dev/null | sort -k2 -n | tail -1 | awk '{print $1}' || true)
              [ -n "$pid" ] && echo "$(date +%s) $(awk '/^VmRSS|^RssAnon/ {printf "%s ", $2}' "/proc/$pid/status")"
          done ) > "$WORK/$corpus.rss" &
        sampler=$!
    fi
    [ -n "${MEMORY_LIMIT:-}" ] && echo 0 > "$cg/memory.max_usage_in_bytes"
    /usr/bin/time -v "${launch[@]}" seqtool -w "$WORK/ws-$corpus" train-mt --src "$WORK/$corpus.en" --tgt "$WORK/$corpus.ja" \
        --dev-src "$WORK/dev.en" --dev-tgt "$WORK/dev.ja" --max-minutes "$MINUTES" --no-tune-decoding --threads 2 \
        --name m --json > "$WORK/$corpus.json" 2> >(if [ "${TRACE:-0}" = 1 ]; then stamp; else cat; fi > "$WORK/$corpus.err")
    sleep 1  # the process substitution writing the .err file finishes
    if [ -n "${MEMORY_LIMIT:-}" ]; then
        echo "cgroup: at most $(($(cat "$cg/memory.max_usage_in_bytes") / 1000000)) MB charged, limit hit" \
            "$(cat "$cg/memory.failcnt") times; $(grep oom_kill "$cg/memory.oom_control" || echo 'oom_kill ?')"
    fi
    if [ "${TRACE:-0}" = 1 ]; then
        kill "$sampler"
        sort -k2 -n "$WORK/$corpus.rss" | tail -1 | sed 's/^/peak sample (seconds, RSS KB, anon KB): /'
        sort -k3 -n "$WORK/$corpus.rss" | tail -1 | sed 's/^/peak anon sample (seconds, RSS KB, anon KB): /'
    fi
    python3 - "$WORK" "$corpus" <<'PY'
import json, re, sys
work, corpus = sys.argv[1], sys.argv[2]
r = json.load(open(f"{work}/{corpus}.json"))
err = open(f"{work}/{corpus}.err").read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", err)
h, m, s = (float(x or 0) for x in wall.groups())
wall_s = h * 3600 + m * 60 + s
rss_gb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1e6
rows = [json.loads(l) for l in open(f"{work}/ws-{corpus}/models/m/metrics.jsonl")]
cfg = json.load(open(f"{work}/ws-{corpus}/models/m/config.json"))
print(f"{corpus}: pairs kept {cfg['data'].get('kept')}, wall {wall_s:.0f}s, training {r['elapsed_s']:.0f}s, "
      f"set-up and the rest {wall_s - r['elapsed_s']:.0f}s, peak RSS {rss_gb:.2f} GB, "
      f"{r['tokens_per_s']:,.0f} target tokens/s, epochs {r['epochs']}, dev BLEU {r['best']['value']:.2f} "
      f"({cfg.get('bleu_tokenize', {}).get('name')})")
PY
done
