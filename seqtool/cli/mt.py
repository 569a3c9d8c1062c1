"""Translation commands: `train-mt`, `translate`, `evaluate mt`, `evaluate bleu`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seqtool.cli.app import app, evaluate_app
from seqtool.cli.common import (
    DeviceOpt,
    EngineOpt,
    JsonOpt,
    ModelOpt,
    ThreadsOpt,
    WorkspaceOpt,
    console,
    notice,
    print_json,
    sample_data_dir,
    setup_torch,
    training_summary,
)

PathOpt = Annotated[Path | None, typer.Option(show_default=False)]


@app.command("train-mt")
def train_mt_cmd(
    src: Annotated[Path | None, typer.Option(help="Training source text \\[default: sample data].")] = None,
    tgt: Annotated[Path | None, typer.Option(help="Training target text, line-aligned with --src.")] = None,
    dev_src: Annotated[Path | None, typer.Option(help="Dev source for per-epoch BLEU.")] = None,
    dev_tgt: Annotated[Path | None, typer.Option(help="Dev references.")] = None,
    src_lang: Annotated[str, typer.Option(help="Source language code (en: raw English is normalized).")] = "en",
    tgt_lang: Annotated[str, typer.Option(help="Target language code (ja: output shown without word spaces).")] = "ja",
    arch: Annotated[str, typer.Option(help="transformer, gru or lstm.")] = "transformer",
    attention: Annotated[str, typer.Option(help="Recurrent models: none, bahdanau or luong.")] = "none",
    bidirectional: Annotated[bool, typer.Option(help="Recurrent models: bidirectional encoder.")] = False,
    layers: Annotated[int | None, typer.Option(help="Layers (Transformer: encoder and decoder each).")] = None,
    decoder_layers: Annotated[
        int | None, typer.Option(help="Transformer decoder layers \\[default: --layers]; fewer decode faster.")
    ] = None,
    emb_dim: Annotated[int | None, typer.Option(help="Embedding size (Transformer: model width).")] = None,
    hidden: Annotated[int | None, typer.Option(help="Recurrent state size.")] = None,
    heads: Annotated[int | None, typer.Option(help="Transformer attention heads.")] = None,
    ff_dim: Annotated[int | None, typer.Option(help="Transformer feed-forward size.")] = None,
    dropout: Annotated[float | None, typer.Option(help="Dropout probability.")] = None,
    attention_dropout: Annotated[float | None, typer.Option(help="Transformer: dropout on attention weights.")] = None,
    activation_dropout: Annotated[
        float | None, typer.Option(help="Transformer: dropout inside the feed-forward layer.")
    ] = None,
    source_word_dropout: Annotated[
        float | None, typer.Option(help="Transformer: replace source tokens by <unk> with this probability.")
    ] = None,
    tokenizer: Annotated[str, typer.Option(help="unigram, bpe (sentencepiece) or word.")] = "unigram",
    src_vocab: Annotated[int, typer.Option(help="Source vocabulary size.")] = 8000,
    tgt_vocab: Annotated[int, typer.Option(help="Target vocabulary size.")] = 8000,
    max_len: Annotated[int, typer.Option(help="Skip training pairs longer than this many tokens.")] = 100,
    epochs: Annotated[int | None, typer.Option(help="Maximum passes over the data.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Wall-clock budget in minutes.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Tokens per batch (padding included).")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    warmup: Annotated[int | None, typer.Option(help="Transformer warm-up steps.")] = None,
    label_smoothing: Annotated[float | None, typer.Option(help="Label smoothing.")] = None,
    patience: Annotated[int | None, typer.Option(help="Early stopping: epochs without dev BLEU gain.")] = None,
    average_last: Annotated[int | None, typer.Option(help="Average the last N epochs' weights at the end.")] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            help="inverse_sqrt, linear or cosine (warm-up, then to 0 when the budget ends), plateau, constant."
        ),
    ] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam, adamw (decoupled weight decay) or sgd.")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="Weight decay (decoupled with adamw).")] = None,
    ema: Annotated[float | None, typer.Option(help="Evaluate and save an EMA of the weights with this decay.")] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="auto, fp32 or bf16 autocast \\[default: auto: bf16 where the CPU/GPU has fast bf16]."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    name: Annotated[str | None, typer.Option(help="Model name \\[default: <src>-<tgt>-<arch>].")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --name.")] = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train a translator (Transformer, or GRU/LSTM encoder-decoder with optional attention)."""
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.mt import MTDataConfig, mt_train_config, train_mt
    from seqtool.training.run import unique_name

    setup_torch(threads)
    if resume and name is None:
        raise OptionError("--resume needs --name NAME of the run to continue")
    given = {"emb_dim": emb_dim, "hidden": hidden, "dropout": dropout, "attention": attention,
             "bidirectional": bidirectional}  # fmt: skip
    if arch == "transformer":
        given = {"dim": emb_dim, "heads": heads, "ff_dim": ff_dim, "dropout": dropout,
                 "encoder_layers": layers, "decoder_layers": decoder_layers or layers,
                 "attention_dropout": attention_dropout, "activation_dropout": activation_dropout,
                 "source_word_dropout": source_word_dropout}  # fmt: skip
    else:
        if decoder_layers is not None:
            raise OptionError("--decoder-layers is a Transformer option; recurrent models take --layers")
        for option, value in (("--attention-dropout", attention_dropout), ("--activation-dropout", activation_dropout),
                              ("--source-word-dropout", source_word_dropout)):  # fmt: skip
            if value is not None:
                raise OptionError(f"{option} is a Transformer option (--arch transformer)")
        given["layers"] = layers
    model_values = {k: v for k, v in given.items() if v is not None}
    train_cfg = mt_train_config(
        arch, epochs=epochs, max_minutes=max_minutes, batch_tokens=batch_size, lr=lr, warmup=warmup,
        label_smoothing=label_smoothing, patience=patience, average_last=average_last, precision=precision, seed=seed,
        schedule=schedule, optimizer=optimizer, weight_decay=weight_decay, ema=ema,
    )  # fmt: skip
    data_cfg = MTDataConfig(src_lang, tgt_lang, tokenizer, src_vocab, tgt_vocab, max_len)
    sample = sample_data_dir() / "enja"
    if src is None and tgt is None and (src_lang, tgt_lang) == ("ja", "en"):
        src, tgt = sample / "train.ja", sample / "train.en"
        dev_src, dev_tgt = dev_src or sample / "dev.ja", dev_tgt or sample / "dev.en"
    src, tgt = src or sample / "train.en", tgt or sample / "train.ja"
    if (dev_src is None) != (dev_tgt is None):
        raise OptionError("give both --dev-src and --dev-tgt, or neither")
    dev_src, dev_tgt = dev_src or sample / "dev.en", dev_tgt or sample / "dev.ja"
    ws = Workspace(workspace)
    name = name or unique_name(ws, f"{src_lang}-{tgt_lang}-{arch}")
    from seqtool.cli.progress import TrainingProgress

    with TrainingProgress(("dev_bleu",)) as progress:
        result = train_mt(
            ws, name, src, tgt, dev_src, dev_tgt, arch, model_values, train_cfg, data_cfg,
            device=device, resume=resume, threads=threads or 1, progress=progress,
        )  # fmt: skip
    from seqtool.training.distributed import is_main_process

    if not is_main_process():  # under torchrun only rank 0 reports
        return
    if json:
        print_json(training_summary(name, result))
    else:
        console.print(
            f"[bold green]trained {name}[/]: best dev BLEU {result.best['value']:.2f} (greedy, epoch "
            f"{result.best['epoch']}), {result.epochs} epochs, {result.elapsed_s:.0f}s, "
            f"{result.tokens_per_s:,.0f} target tokens/s; stopped: {result.stopped_because}"
        )


@app.command("translate")
def translate_cmd(
    text: Annotated[
        str | None, typer.Argument(help="Text to translate \\[default: lines from stdin or --input].")
    ] = None,
    input: Annotated[Path | None, typer.Option("--input", "-i", help="Translate each line of this file.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write translations here.")] = None,
    beam: Annotated[int, typer.Option(help="Beam size (1: greedy).")] = 5,
    length_penalty: Annotated[float, typer.Option(help="GNMT length penalty alpha.")] = 1.0,
    nbest: Annotated[int, typer.Option(help="Print the N best translations.")] = 1,
    tokenized: Annotated[bool, typer.Option(help="Keep the corpus's word segmentation in the output.")] = False,
    show_attention: Annotated[bool, typer.Option(help="Save an attention heatmap PNG (attention models).")] = False,
    batch_size: Annotated[int, typer.Option(help="Sentences per decoding batch.")] = 64,
    model: ModelOpt = None,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Translate TEXT, or every line of --input / stdin (in batches, order kept)."""
    from seqtool.data.corpus import read_lines
    from seqtool.errors import OptionError, check_positive
    from seqtool.files import atomic_write_text
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.translator import load_translator

    check_positive("--beam", beam)
    check_positive("--batch-size", batch_size)
    if text is not None and input is not None:
        raise OptionError("give TEXT or --input FILE, not both")
    if text is not None and not text.strip():
        raise OptionError("TEXT is empty: give a sentence to translate")
    if text is not None:
        texts = [text]
    elif input is not None:
        texts = [line for _, line in read_lines(input)]
    elif not sys.stdin.isatty():
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    else:
        raise OptionError("nothing to translate: give TEXT, --input FILE, or lines on stdin")
    if threads is not None:
        check_positive("--threads", threads)
    ws = Workspace(workspace)
    tr = load_translator(ws, model, device, engine=engine, threads=threads, notify=notice)
    extra = {}
    if tr.engine == "torch":
        setup_torch(threads)
    elif show_attention:
        extra["return_attention"] = True  # CTranslate2 computes it only on request
    found = tr.translate(texts, tokenized=tokenized, beam=beam, alpha=length_penalty, nbest=nbest,
                         batch_sentences=batch_size, with_hypotheses=True, **extra)  # fmt: skip
    if show_attention:
        _save_attention(tr, ws, texts, found)
    if json:
        rows = [{"source": s, "translations": [{"text": t, "score": h.score, "normalized_score": h.normalized}
                                              for t, h in hyps]} for s, hyps in zip(texts, found, strict=True)]  # fmt: skip
        print_json({"model": tr.md.name, "results": rows})
        return
    lines = ["\t".join(t for t, _ in hyps) if nbest > 1 else hyps[0][0] for hyps in found]
    if output is not None:
        atomic_write_text(output, "".join(line + "\n" for line in lines))
        console.print(f"wrote {len(lines):,} translations to {output}", style="dim")
    else:
        sys.stdout.write("".join(line + "\n" for line in lines))


def _save_attention(tr, ws, texts, found) -> None:  # noqa: ANN001 - CLI helper
    from seqtool.errors import OptionError
    from seqtool.files import now_iso
    from seqtool.viz.figures import attention_heatmap

    if tr.engine == "torch" and tr.config.get("model", {}).get("attention", "none") == "none":
        raise OptionError(
            f"model {tr.md.name!r} has no attention to show on torch (train with --attention bahdanau|luong, "
            "or export a Transformer with `seqtool export` and use --engine ctranslate2)"
        )
    stamp = now_iso().replace(":", "").replace("+", "_")[:17]
    for n, (source, hyps) in enumerate(zip(texts, found, strict=True)):
        _, hyp = hyps[0]
        if not hyp.attention:
            continue
        src_pieces = tr.src_tok.pieces(source)
        out_pieces = [tr.tgt_tok.id_to_piece(i) for i in hyp.ids] + ["</s>"]
        path = ws.figures_dir / f"attention-{tr.md.name}-{stamp}-{n + 1}.png"
        attention_heatmap(src_pieces, out_pieces, hyp.attention, path, f"{tr.md.name}: {source[:60]}")
        console.print(f"attention heatmap: {path}", style="dim")


@evaluate_app.command("mt")
def evaluate_mt_cmd(
    src: Annotated[Path | None, typer.Option(help="Source sentences \\[default: the model's dev source].")] = None,
    ref: Annotated[Path | None, typer.Option(help="References \\[default: the model's dev references].")] = None,
    beam: Annotated[int, typer.Option(help="Beam size.")] = 5,
    length_penalty: Annotated[float, typer.Option(help="GNMT length penalty alpha.")] = 1.0,
    tokenize: Annotated[str, typer.Option(help="sacrebleu tokenizer; 'none' for pre-segmented references.")] = "none",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the translations here.")] = None,
    model: ModelOpt = None,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Translate a test set and score it: BLEU, chrF and TER (sacrebleu, with signatures)."""
    import time

    from seqtool.files import atomic_write_text
    from seqtool.metrics import translation_scores
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.mt import read_dev
    from seqtool.tasks.translator import load_translator

    setup_torch(threads)
    tr = load_translator(Workspace(workspace), model, device, engine=engine, threads=threads, notify=notice)
    src = src or Path(tr.config["data"]["dev_src"])
    ref = ref or Path(tr.config["data"]["dev_tgt"])
    sources, refs = read_dev(src, ref)
    t0 = time.perf_counter()
    hyps = [h[0] for h in tr.translate(sources, tokenized=True, beam=beam, alpha=length_penalty)]
    seconds = time.perf_counter() - t0
    scores = translation_scores(hyps, refs, tokenize=tokenize)
    if output is not None:
        atomic_write_text(output, "".join(h + "\n" for h in hyps))
    result = {"model": tr.md.name, "engine": tr.engine, "src": str(src), "ref": str(ref), "beam": beam, **scores.as_dict(),
              "decode_seconds": round(seconds, 2)}  # fmt: skip
    if json:
        print_json(result)
        return
    _print_scores(f"{tr.md.name} on {src} (beam {beam}, {tr.engine}, {seconds:.1f}s)", result)


def _print_scores(title: str, result: dict) -> None:
    table = Table(title=title)
    for col in ("BLEU", "chrF", "TER", "sentences"):
        table.add_column(col, justify="right")
    table.add_row(f"{result['bleu']:.2f}", f"{result['chrf']:.2f}", f"{result['ter']:.2f}", str(result["sentences"]))
    console.print(table)
    for metric, sig in result["signatures"].items():
        console.print(f"{metric}: {sig}", style="dim")


@evaluate_app.command("bleu")
def evaluate_bleu_cmd(
    hyp: Annotated[Path, typer.Option(help="Translations, one per line.")],
    ref: Annotated[Path, typer.Option(help="References, line-aligned with --hyp.")],
    tokenize: Annotated[str, typer.Option(help="sacrebleu tokenizer; 'none' for pre-segmented text.")] = "none",
    json: JsonOpt = False,
) -> None:
    """Score existing translations against references: BLEU, chrF, TER with sacrebleu signatures."""
    from seqtool.data.corpus import check_parallel, read_lines
    from seqtool.metrics import translation_scores

    check_parallel(hyp, ref)
    hyps = [line for _, line in read_lines(hyp)]
    refs = [line for _, line in read_lines(ref)]
    result = {"hyp": str(hyp), "ref": str(ref), **translation_scores(hyps, refs, tokenize=tokenize).as_dict()}
    if json:
        print_json(result)
        return
    _print_scores(f"{hyp} vs {ref}", result)
