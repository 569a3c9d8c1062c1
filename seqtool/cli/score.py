"""`seqtool score`: how probable a model finds given outputs (forced decoding), per sentence and token."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import DeviceOpt, EngineOpt, JsonOpt, ThreadsOpt, WorkspaceOpt, notice, print_json, setup_torch


def _filter(ws: object, forward: object, reverse: str | None, keep: float | None, out: Path | None,
            sources: list[str] | None, targets: list[str], device: str, options: dict, json: bool) -> None:  # fmt: skip
    """`score --reverse NAME [--keep F --out PREFIX]`: dual conditional cross-entropy filtering."""
    from seqtool.errors import OptionError
    from seqtool.files import atomic_write_text
    from seqtool.store.workspace import load_model_config
    from seqtool.tasks.kinds import kind_of
    from seqtool.tasks.scoring import dual_cross_entropy, keep_best

    if reverse is None or sources is None:
        raise OptionError("filtering needs a translator pair: --model SRC->TGT, --reverse TGT->SRC, --src and --hyp")
    if (keep is None) != (out is None):
        raise OptionError("give --keep FRACTION and --out PREFIX together")
    if keep is not None and not 0 < keep <= 1:
        raise OptionError(f"--keep must be in (0, 1], got {keep}")
    reverse_kind = kind_of(load_model_config(ws, reverse))  # type: ignore[arg-type]
    if not reverse_kind.reads_source:
        raise OptionError(
            f"--reverse {reverse}: a {reverse_kind.name} model; give the translator of the other direction"
        )
    backward = reverse_kind.load(ws, reverse, device, **options)  # type: ignore[arg-type]
    scores = dual_cross_entropy(forward, backward, sources, targets)
    if keep is None or out is None:
        if json:
            print_json({"scores": scores})
        else:
            sys.stdout.write("".join(f"{s:.6f}\n" for s in scores))
        return
    kept = keep_best(scores, keep)
    atomic_write_text(Path(f"{out}.src"), "".join(sources[i] + "\n" for i in kept))
    atomic_write_text(Path(f"{out}.tgt"), "".join(targets[i] + "\n" for i in kept))
    summary = {"pairs": len(scores), "kept": len(kept), "src": f"{out}.src", "tgt": f"{out}.tgt"}
    if json:
        print_json({**summary, "kept_lines": [i + 1 for i in kept]})
    else:
        notice(f"kept {len(kept):,} of {len(scores):,} pairs (lowest dual cross-entropy): {out}.src, {out}.tgt")


@app.command("score", rich_help_panel=panels.EVAL)
def score_cmd(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (a translator or a language model).")
    ] = None,
    src: Annotated[Path | None, typer.Option(help="Translators: the sources, one per line.")] = None,
    hyp: Annotated[
        Path | None, typer.Option(help="Translators: the outputs to score, line-aligned with --src.")
    ] = None,
    text: Annotated[Path | None, typer.Option(help="Language models: the sentences to score, one per line.")] = None,
    tokens: Annotated[bool, typer.Option(help="Also each token's log-probability.")] = False,
    reverse: Annotated[
        str | None,
        typer.Option(
            help="Filter a corpus: the reverse translator (tgt->src); prints dual cross-entropy, lower is better."
        ),
    ] = None,
    keep: Annotated[
        float | None, typer.Option(help="With --reverse: keep this fraction of the pairs, best first.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="With --keep: write the kept pairs to OUT.src and OUT.tgt (input order).")
    ] = None,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Score given outputs: each line's total log-probability (</s> included), the mean per token (and an
    LM's per-word perplexity); TSV by default, with --src/--hyp, --text, or stdin (source<TAB>hypothesis
    for a translator, a sentence per line for a language model).

    Hypotheses are read in the target's corpus segmentation (`translate --tokenized` output)."""
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace, load_model_config
    from seqtool.tasks.kinds import kind_of
    from seqtool.tasks.scoring import check_nonempty, read_pairs

    ws = Workspace(workspace)
    if (src is None) != (hyp is None):
        raise OptionError("give both --src and --hyp, or neither")
    if text is not None and src is not None:
        raise OptionError("give --src/--hyp (a translator) or --text (a language model), not both")
    first = model.split(",")[0] if model else None  # an ensemble a,b: its members share a kind
    md, cfg = ws.find(None, "mt") if first is None else (None, load_model_config(ws, first))
    model_kind = kind_of(cfg)
    name = model or (md.name if md is not None else None)
    if src is not None or text is not None:
        model_kind.check_score_inputs(str(name), src is not None)
    sources: list[str] | None
    if src is not None and hyp is not None:
        sources, texts = read_pairs(src, hyp)
        where = str(hyp)
    elif text is not None:
        from seqtool.data.corpus import read_lines

        sources, texts, where = None, [line for _, line in read_lines(text)], str(text)
    elif not sys.stdin.isatty():
        lines = [line.rstrip("\r\n") for line in sys.stdin]
        where = "stdin"
        if not model_kind.reads_source:
            sources, texts = None, lines
        else:
            split = [line.split("\t") for line in lines]
            bad = next((n for n, parts in enumerate(split, start=1) if len(parts) != 2), None)
            if bad is not None:
                raise OptionError(f"stdin:{bad}: expected source<TAB>hypothesis")
            sources, texts = [p[0] for p in split], [p[1] for p in split]
    else:
        raise OptionError("nothing to score: give --src FILE --hyp FILE, --text FILE, or lines on stdin")
    check_nonempty(texts, where)
    if sources is not None:
        check_nonempty(sources, str(src) if src is not None else "stdin")
    options = {"engine": engine, "threads": threads, "notify": notice} if model_kind.has_engines else {}
    loaded = model_kind.load(ws, name, device, **options)
    if getattr(loaded, "engine", "torch") == "torch":
        setup_torch(threads)
    if reverse is not None or keep is not None or out is not None:
        _filter(ws, loaded, reverse, keep, out, sources, texts, device, options, json)
        return
    scored = model_kind.score(loaded, texts, sources)
    if json:
        from seqtool.tasks.translator import translator_name

        print_json({"model": translator_name(loaded), "engine": getattr(loaded, "engine", "torch"),
                    "results": [s.as_dict(tokens) for s in scored]})  # fmt: skip
        return
    for s in scored:
        extra = f"\t{' '.join(f'{p}:{lp:.4f}' for p, lp in zip(s.pieces, s.logprobs, strict=True))}" if tokens else ""
        sys.stdout.write(f"{s.total:.6f}\t{s.mean:.6f}{extra}\n")
