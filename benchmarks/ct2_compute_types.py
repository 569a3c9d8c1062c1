"""CTranslate2's compute types against torch fp32, on this CPU and as an AVX2-only CPU (issue 30).

    python benchmarks/ct2_compute_types.py --model NAME -w WS [--limit 500] [--rounds 3] [--threads 2]

For a trained Transformer translator NAME, one child process per instruction set: this CPU as it is, and
AVX2 only (``CT2_FORCE_CPU_ISA=AVX2`` for CTranslate2, ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2``
for torch, which the issue names for approximating an AVX2 laptop on an AVX-512 machine). In each child,
the first --limit dev sentences are translated with beam 5 (the model's tuned length penalty) by torch fp32
and by the float32 export loaded with each compute type this CPU offers (CTranslate2 quantizes the float32
weights on load, as `seqtool export --quantize` would), every round in a rotated order; the median wall time
and the BLEU of each are printed as JSON, with the speed-up over torch fp32. The float32 export is created
if it is missing. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "small_parallel_enja"
AVX2 = {"CT2_FORCE_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
TYPES = ("float32", "int16", "int8", "int8_float32", "bfloat16", "int8_bfloat16")


def child(args: argparse.Namespace) -> None:
    import ctranslate2
    import torch

    from seqtool.data.search import SearchOptions
    from seqtool.metrics import bleu_only, choose_tokenize
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.mt import read_dev
    from seqtool.tasks.translator import load_translator

    torch.set_num_threads(args.threads)
    ws = Workspace(args.workspace)
    sources, refs = read_dev(args.src, args.ref)
    sources, refs = sources[: args.limit], refs[: args.limit]
    torch_tr = load_translator(ws, args.model, "cpu", engine="torch")
    ct2_tr = load_translator(ws, args.model, "cpu", engine="ctranslate2", threads=args.threads)
    folder = Path(ct2_tr.md.path) / "ct2-float32"
    alpha = float(torch_tr.config.get("decoding", {}).get("length_penalty", 1.0))
    search = SearchOptions(strategy="beam", beam=5, alpha=alpha)
    choice = choose_tokenize(refs, torch_tr.config.get("tgt_lang"))
    supported = ctranslate2.get_supported_compute_types("cpu")
    engines: dict[str, object] = {"torch fp32": torch_tr}
    for compute in (t for t in TYPES if t in supported):
        ct2_tr.translator = ctranslate2.Translator(str(folder), device="cpu", compute_type=compute,
                                                   inter_threads=args.threads, intra_threads=1)  # fmt: skip
        engines[f"ct2 {compute}"] = ct2_tr.translator
    times: dict[str, list[float]] = {name: [] for name in engines}
    bleu: dict[str, float] = {}
    names = list(engines)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            tr = torch_tr if name == "torch fp32" else ct2_tr
            if tr is ct2_tr:
                ct2_tr.translator = engines[name]
            start = time.perf_counter()
            found = tr.translate(sources, search=search, tokenized=True)
            times[name].append(time.perf_counter() - start)
            bleu[name] = bleu_only([t[0].text for t in found], refs, choice)
    base = statistics.median(times["torch fp32"])
    isa = os.environ.get("CT2_FORCE_CPU_ISA", "native")
    for name in names:
        wall = statistics.median(times[name])
        print(json.dumps({"isa": isa, "engine": name, "sentences": len(sources), "wall_s": round(wall, 3),
                          "speedup_vs_torch_fp32": round(base / wall, 2), "bleu": round(bleu[name], 2),
                          "runs": [round(t, 3) for t in times[name]], "supported": sorted(supported)}),
              flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("-w", "--workspace", required=True)
    parser.add_argument("--src", type=Path, default=DATA / "dev.en")
    parser.add_argument("--ref", type=Path, default=DATA / "dev.ja")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if not (Path(args.workspace) / "models" / args.model / "ct2-float32").is_dir():
        subprocess.run([sys.executable, "-m", "seqtool", "-w", args.workspace, "export", args.model, "--quantize",
                        "float32"], check=True)  # fmt: skip
    flags = Path("/proc/cpuinfo").read_text()
    cpu = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), "?")
    print(json.dumps({"cpu": cpu, "avx512_bf16": "avx512_bf16" in flags, "load": os.getloadavg()}), flush=True)
    for extra in ({}, AVX2):
        env = {**os.environ, **extra, "OMP_NUM_THREADS": str(args.threads)}
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--child"], env=env, check=True)


if __name__ == "__main__":
    main()
