"""Translation commands: `train-mt`, `tune-decoding`, `translate`, `evaluate mt`, `evaluate bleu`."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import panels
from seqtool.cli.app import app, evaluate_app
from seqtool.cli.common import (
    DeviceOpt,
    EngineOpt,
    JsonOpt,
    ModelOpt,
    ThreadsOpt,
    WorkspaceOpt,
    console,
    is_main_process,
    notice,
    print_json,
    report_training,
    setup_torch,
)
from seqtool.cli.runfile import ConfigFileOpt, recorded_run

PathOpt = Annotated[Path | None, typer.Option(show_default=False)]
BEAM_HELP = "Beam size (1: greedy) \\[default: the model's tuned beam (`tune-decoding`), else 5]."
ALPHA_HELP = "GNMT length penalty alpha \\[default: the model's tuned alpha, else 1.0]."
MbrMetricOpt = Annotated[str, typer.Option(help="--mbr's utility: chrf or bleu (sacrebleu sentence scores).")]
TokenizeOpt = Annotated[str, typer.Option(help="BLEU's sacrebleu tokenizer; auto: by target language and "
                                               "segmentation (docs/translation-scoring.md).")]  # fmt: skip
TgtLangOpt = Annotated[str | None, typer.Option(help="Target language for --tokenize auto \\[default: detected].")]


@app.command("train-mt", rich_help_panel=panels.MT)
def train_mt_cmd(
    ctx: typer.Context,
    src: Annotated[Path | None, typer.Option(help="Training source text \\[default: sample data].")] = None,
    tgt: Annotated[Path | None, typer.Option(help="Training target text, line-aligned with --src.")] = None,
    mix: Annotated[
        Path | None,
        typer.Option(
            help="Instead of --src/--tgt: a corpus file listing several corpora and their weights "
            "(docs/data-prepare.md)."
        ),  # fmt: skip
    ] = None,
    dev_src: Annotated[Path | None, typer.Option(help="Dev source for per-epoch BLEU.")] = None,
    dev_tgt: Annotated[Path | None, typer.Option(help="Dev references.")] = None,
    src_lang: Annotated[str | None, typer.Option(help="Source language code (en: raw English is normalized).")] = None,
    tgt_lang: Annotated[
        str | None, typer.Option(help="Target language code (ja: output shown without word spaces).")
    ] = None,
    arch: Annotated[str | None, typer.Option(help="transformer, gru or lstm.")] = None,
    attention: Annotated[str | None, typer.Option(help="Recurrent models: none, bahdanau or luong.")] = None,
    bidirectional: Annotated[bool | None, typer.Option(help="Recurrent models: bidirectional encoder.")] = None,
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
    tokenizer: Annotated[
        str | None, typer.Option(help="unigram, bpe (sentencepiece) or word; or SOURCE,TARGET (e.g. unigram,word).")
    ] = None,
    src_vocab: Annotated[int | None, typer.Option(help="Source vocabulary size.")] = None,
    tgt_vocab: Annotated[int | None, typer.Option(help="Target vocabulary size.")] = None,
    segment: Annotated[
        str | None,
        typer.Option(
            help="auto, none or mecab: split Japanese into words with MeCab before sentencepiece "
            "\\[default: auto: a Japanese target written without spaces]."
        ),
    ] = None,
    max_len: Annotated[int | None, typer.Option(help="Skip training pairs longer than this many tokens.")] = None,
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
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name \\[default: <src>-<tgt>-<arch>].")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --name.")] = False,
    tune_decoding: Annotated[
        bool, typer.Option(help="After training, tune beam 5's length penalty on dev (`seqtool tune-decoding`).")
    ] = True,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    config: ConfigFileOpt = None,
) -> None:
    """Train a translator (Transformer, or GRU/LSTM encoder-decoder with optional attention)."""
    options = {k: v for k, v in locals().items() if k != "ctx"}
    from seqtool.data.mix import CorpusMix
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace
    from seqtool.tasks import mt
    from seqtool.training.run import unique_name

    recipe = mt.mt_recipe(options)
    setup_torch(threads)
    if resume and name is None:
        raise OptionError("--resume needs --name NAME of the run to continue")
    data_cfg = recipe.data_cfg
    corpora = CorpusMix.from_options(mix, src, tgt)
    files = mt.default_mt_data(src, tgt, dev_src, dev_tgt, data_cfg.src_lang, data_cfg.tgt_lang)
    ws = Workspace(workspace)
    name = name or unique_name(ws, mt.default_mt_name(data_cfg, recipe.arch))
    from seqtool.cli.progress import TrainingProgress

    resolved = dict(zip(("src", "tgt", "dev_src", "dev_tgt"), files, strict=True), seed=recipe.train_cfg.seed)
    if corpora is not None:  # the corpus file replaces --src/--tgt, also in the recorded run
        del resolved["src"], resolved["tgt"]
        resolved["mix"] = corpora.path
    with TrainingProgress(("dev_bleu",), json=json) as progress, recorded_run(ctx, ws, name, resume, resolved):
        result = mt.train_mt(ws, name, *files, recipe.arch, recipe.model_values, recipe.train_cfg, data_cfg,
                             device=device, resume=resume, threads=threads or 1, progress=progress,
                             mix=corpora)  # fmt: skip
    decoding = tune_after_training(ws, name, device) if tune_decoding else None
    if report_training(name, result, json, extra={"decoding": decoding} if decoding else None):
        console.print(
            f"[bold green]trained {name}[/]: best dev BLEU {result.best['value']:.2f} (greedy, epoch "
            f"{result.best['epoch']}), {result.epochs} epochs, {result.elapsed_s:.0f}s, "
            f"{result.tokens_per_s:,.0f} target tokens/s; stopped: {result.stopped_because}"
        )
        print_tuned(decoding)


def tune_after_training(ws: Any, name: str, device: str) -> dict[str, Any] | None:
    """The end of `train-mt` and `distill`: tune beam 5's length penalty on the model's dev set (torch,
    as trained) and store it; None on ranks other than 0 under torchrun."""
    if not is_main_process():
        return None
    from seqtool.tasks.decoding_tuning import tune_decoding
    from seqtool.tasks.mt import model_dev_files, read_dev
    from seqtool.tasks.translator import load_translator

    tr = load_translator(ws, name, device, engine="torch")
    src, ref = model_dev_files(tr.config)
    return tune_decoding(tr, *read_dev(src, ref), tuned_on=src)


def print_tuned(decoding: dict[str, Any] | None) -> None:
    if decoding:
        console.print(f"decoding tuned on dev: beam {decoding['beam']}, length penalty "
                      f"{decoding['length_penalty']} (BLEU {decoding['dev_bleu']:.2f})")  # fmt: skip


@app.command("tune-decoding", rich_help_panel=panels.MT)
def tune_decoding_cmd(
    src: Annotated[Path | None, typer.Option(help="Dev source \\[default: the model's dev source].")] = None,
    ref: Annotated[Path | None, typer.Option(help="Dev references \\[default: the model's dev references].")] = None,
    beams: Annotated[str, typer.Option(help="Beam sizes to try, comma-separated.")] = "5",
    alphas: Annotated[
        str | None, typer.Option(help="GNMT length penalties to try, comma-separated \\[default: 0.6,1.0,1.4,2.0].")
    ] = None,
    tokenize: TokenizeOpt = "auto",
    model: ModelOpt = None,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Pick the beam size and length penalty with the best dev BLEU and store them in the model's config:
    `translate`, `evaluate mt` and the server use them unless told otherwise."""
    from seqtool.metrics import check_tokenize
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.decoding_tuning import DEFAULT_ALPHAS, parse_alphas, parse_beams, tune_decoding
    from seqtool.tasks.mt import model_dev_files, read_dev
    from seqtool.tasks.translator import load_translator

    beam_sizes = parse_beams(beams)
    alpha_values = parse_alphas(alphas) if alphas is not None else DEFAULT_ALPHAS
    check_tokenize(tokenize)
    setup_torch(threads)
    tr = load_translator(Workspace(workspace), model, device, engine=engine, threads=threads, notify=notice)
    src, ref = model_dev_files(tr.config, src, ref)

    def show(row: dict) -> None:
        if not json:
            console.print(f"beam {row['beam']}, length penalty {row['length_penalty']}: BLEU {row['bleu']:.2f}")

    section = tune_decoding(tr, *read_dev(src, ref), beams=beam_sizes, alphas=alpha_values, tuned_on=src,
                            tokenize=tokenize, ref=ref, progress=show)  # fmt: skip
    if json:
        print_json({"model": tr.md.name, "engine": tr.engine, **section})
        return
    console.print(f"[bold green]{tr.md.name}[/]: beam {section['beam']}, length penalty "
                  f"{section['length_penalty']} (dev BLEU {section['dev_bleu']:.2f}) stored in its config")  # fmt: skip
    console.print(f"BLEU tokenizer: {section['tokenize_reason']}", style="dim")


@app.command("translate", rich_help_panel=panels.MT)
def translate_cmd(
    text: Annotated[
        str | None, typer.Argument(help="Text to translate \\[default: lines from stdin or --input].")
    ] = None,
    input: Annotated[Path | None, typer.Option("--input", "-i", help="Translate each line of this file.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write translations here.")] = None,
    beam: Annotated[int | None, typer.Option(help=BEAM_HELP)] = None,
    length_penalty: Annotated[float | None, typer.Option(help=ALPHA_HELP)] = None,
    nbest: Annotated[int, typer.Option(help="Print the N best translations.")] = 1,
    strategy: Annotated[
        str, typer.Option(help="Search: beam (--beam 1: greedy), greedy, sample, or a plugin's strategy.")
    ] = "beam",
    temperature: Annotated[float | None, typer.Option(help="--strategy sample: temperature \\[default: 1.0].")] = None,
    top_k: Annotated[int | None, typer.Option(help="--strategy sample: draw among the K best tokens (0: all).")] = None,
    seed: Annotated[int | None, typer.Option(help="--strategy sample: random seed.")] = None,
    mbr: Annotated[
        int | None, typer.Option(help="Minimum Bayes risk: pick among the beam's n-best and N epsilon-samples.")
    ] = None,
    mbr_metric: MbrMetricOpt = "chrf",
    confidence: Annotated[
        bool, typer.Option(help="--json: each output token's probability and the mean log-probability.")
    ] = False,
    min_confidence: Annotated[
        float | None,
        typer.Option(help="Flag (not drop) outputs whose mean token probability (geometric) is below this, 0-1."),
    ] = None,
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
    from seqtool.tasks.decoding_tuning import chosen_search
    from seqtool.tasks.translator import attention_figures, load_translator, translator_name

    if beam is not None:
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
    search = chosen_search(tr.config, beam, length_penalty, strategy=strategy, nbest=nbest, temperature=temperature,
                           top_k=top_k, seed=seed)  # fmt: skip
    extra = {}
    if tr.engine == "torch":
        setup_torch(threads)
    elif show_attention:
        extra["return_attention"] = True  # CTranslate2 computes it only on request
    if mbr is not None:
        from seqtool.tasks.mbr import mbr_translate

        found = mbr_translate(tr, texts, search, mbr, mbr_metric, tokenized=tokenized, batch_sentences=batch_size)
    else:
        found = tr.translate(texts, tokenized=tokenized, search=search, batch_sentences=batch_size, **extra)
    if show_attention:
        for path in attention_figures(tr, ws.figures_dir, texts, found):
            console.print(f"attention heatmap: {path}", style="dim")
    scored = None
    if confidence or min_confidence is not None:
        from seqtool.errors import check_range
        from seqtool.tasks.scoring import confidence as confidence_of

        if min_confidence is not None:
            check_range("--min-confidence", min_confidence, 0.0, 1.0)
        scored = confidence_of(tr, texts, found)  # forced decoding of the outputs, same engine
    threshold = math.log(min_confidence) if min_confidence else -math.inf
    if json:
        rows = [{"source": s, "translations": [{"text": t.text, "score": t.hypothesis.score,
                                                "normalized_score": t.hypothesis.normalized,
                                                **_confidence_fields(scored, n, k, confidence, threshold)}
                                               for k, t in enumerate(translations)]}
                for n, (s, translations) in enumerate(zip(texts, found, strict=True))]  # fmt: skip
        print_json({"model": translator_name(tr), "results": rows})
        return
    if scored is not None and min_confidence is not None:
        doubtful = [n + 1 for n, row in enumerate(scored) if row and row[0].mean < threshold]
        if doubtful:
            shown = ", ".join(map(str, doubtful[:20])) + (" ..." if len(doubtful) > 20 else "")
            notice(
                f"{len(doubtful)} of {len(texts)} translations below --min-confidence {min_confidence}: lines {shown}"
            )
    lines = ["\t".join(t.text for t in translations) for translations in found]
    if output is not None:
        atomic_write_text(output, "".join(line + "\n" for line in lines))
        console.print(f"wrote {len(lines):,} translations to {output}", style="dim")
    else:
        sys.stdout.write("".join(line + "\n" for line in lines))


def _confidence_fields(scored: Any, n: int, k: int, tokens: bool, threshold: float) -> dict[str, Any]:
    """translate --json's confidence entries of output k of sentence n (none without --confidence/--min-confidence)."""
    if scored is None:
        return {}
    s = scored[n][k]
    out: dict[str, Any] = {"mean_logprob": s.mean, "doubtful": s.mean < threshold}
    if tokens:
        out["tokens"] = [{"piece": p, "prob": math.exp(lp)} for p, lp in zip(s.pieces, s.logprobs, strict=True)]
    return out


@evaluate_app.command("mt")
def evaluate_mt_cmd(
    src: Annotated[Path | None, typer.Option(help="Source sentences \\[default: the model's dev source].")] = None,
    ref: Annotated[Path | None, typer.Option(help="References \\[default: the model's dev references].")] = None,
    beam: Annotated[int | None, typer.Option(help=BEAM_HELP)] = None,
    length_penalty: Annotated[float | None, typer.Option(help=ALPHA_HELP)] = None,
    tokenize: TokenizeOpt = "auto",
    tgt_lang: TgtLangOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the translations here.")] = None,
    strategy: Annotated[str, typer.Option(help="Search: beam, greedy, sample or a plugin's (as translate).")] = "beam",
    mbr: Annotated[int | None, typer.Option(help="Minimum Bayes risk over N samples (as translate --mbr).")] = None,
    seed: Annotated[int | None, typer.Option(help="--strategy sample / --mbr: random seed.")] = None,
    mbr_metric: MbrMetricOpt = "chrf",
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
    from seqtool.metrics import check_tokenize, translation_scores
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.decoding_tuning import chosen_search, model_tokenize
    from seqtool.tasks.mt import model_dev_files, read_dev
    from seqtool.tasks.translator import load_translator, translator_name

    check_tokenize(tokenize)
    setup_torch(threads)
    tr = load_translator(Workspace(workspace), model, device, engine=engine, threads=threads, notify=notice)
    search = chosen_search(tr.config, beam, length_penalty, strategy=strategy, seed=seed)
    beam, length_penalty = search.beam, search.alpha
    src, ref = model_dev_files(tr.config, src, ref)
    sources, refs = read_dev(src, ref)
    t0 = time.perf_counter()
    if mbr is not None:
        from seqtool.tasks.mbr import mbr_translate

        found = mbr_translate(tr, sources, search, mbr, mbr_metric, tokenized=True)
    else:
        found = tr.translate(sources, tokenized=True, search=search)
    hyps = [t[0].text for t in found]
    seconds = time.perf_counter() - t0
    scores = translation_scores(hyps, refs, model_tokenize(tr.config, refs, tokenize, ref, tgt_lang))
    if output is not None:
        atomic_write_text(output, "".join(h + "\n" for h in hyps))
    result = {"model": translator_name(tr), "engine": tr.engine, "src": str(src), "ref": str(ref), "beam": beam,
              "length_penalty": length_penalty, "strategy": f"mbr-{mbr}-{mbr_metric}" if mbr is not None else search.strategy,
              **scores.as_dict(),
              "decode_seconds": round(seconds, 2)}  # fmt: skip
    if json:
        print_json(result)
        return
    _print_scores(f"{translator_name(tr)} on {src} (beam {beam}, {tr.engine}, {seconds:.1f}s)", result)


def _print_scores(title: str, result: dict) -> None:
    from rich.table import Table  # rich.table imports decimal: not on `translate`'s path

    table = Table(title=title)
    for col in ("BLEU", "chrF", "TER", "sentences"):
        table.add_column(col, justify="right")
    table.add_row(f"{result['bleu']:.2f}", f"{result['chrf']:.2f}", f"{result['ter']:.2f}", str(result["sentences"]))
    console.print(table)
    for metric, sig in result["signatures"].items():
        console.print(f"{metric}: {sig}", style="dim")
    console.print(f"BLEU tokenizer: {result['tokenize_reason']}", style="dim")


@evaluate_app.command("bleu")
def evaluate_bleu_cmd(
    hyp: Annotated[Path, typer.Option(help="Translations, one per line.")],
    ref: Annotated[Path, typer.Option(help="References, line-aligned with --hyp.")],
    tokenize: TokenizeOpt = "auto",
    tgt_lang: TgtLangOpt = None,
    json: JsonOpt = False,
) -> None:
    """Score existing translations against references: BLEU, chrF, TER with sacrebleu signatures."""
    from seqtool.data.corpus import check_parallel, read_lines
    from seqtool.metrics import check_tokenize, translation_scores

    check_tokenize(tokenize)
    check_parallel(hyp, ref)
    hyps = [line for _, line in read_lines(hyp)]
    refs = [line for _, line in read_lines(ref)]
    scores = translation_scores(hyps, refs, tokenize, tgt_lang=tgt_lang)
    result = {"hyp": str(hyp), "ref": str(ref), **scores.as_dict()}
    if json:
        print_json(result)
        return
    _print_scores(f"{hyp} vs {ref}", result)
