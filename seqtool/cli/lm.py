"""Language-model commands: `train-lm`, `predict-next`, `generate`, `evaluate lm`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seqtool.cli.app import app, evaluate_app
from seqtool.cli.common import (
    DeviceOpt,
    JsonOpt,
    ModelOpt,
    ThreadsOpt,
    WorkspaceOpt,
    console,
    print_json,
    sample_data_dir,
    setup_torch,
    training_summary,
)

CELL_HELP = "rnn, lstm, gru, transformer, wavenet or vae (sentence VAE)."


@app.command("train-lm")
def train_lm_cmd(
    cell: Annotated[str, typer.Option(help=CELL_HELP)] = "lstm",
    train: Annotated[
        Path | None, typer.Option(help="Training text, one sentence per line \\[default: sample data].")
    ] = None,
    dev: Annotated[
        Path | None, typer.Option(help="Dev text for per-epoch perplexity \\[default: sample data].")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name \\[default: <cell>-lm, numbered if taken].")] = None,
    activation: Annotated[str, typer.Option(help="Plain RNN activation: tanh or relu.")] = "tanh",
    layers: Annotated[int, typer.Option(help="Recurrent or Transformer layers.")] = 2,
    emb_dim: Annotated[int, typer.Option(help="Embedding size (the Transformer's width).")] = 256,
    hidden: Annotated[int, typer.Option(help="Recurrent state size.")] = 256,
    dropout: Annotated[float, typer.Option(help="Dropout probability.")] = 0.3,
    tie_weights: Annotated[bool, typer.Option(help="Share input embedding and output layer.")] = True,
    context: Annotated[int, typer.Option(help="Window model: predict from the N previous words (0: causal LM).")] = 0,
    bidirectional: Annotated[bool, typer.Option(help="Window model only: read the window both ways.")] = False,
    heads: Annotated[int, typer.Option(help="Transformer attention heads.")] = 4,
    kernel: Annotated[int, typer.Option(help="WaveNet convolution width.")] = 2,
    dilation_cycle: Annotated[int, typer.Option(help="WaveNet: dilations 1, k, k^2 .. k^(cycle-1), repeated.")] = 4,
    channels: Annotated[int, typer.Option(help="WaveNet residual/skip channels.")] = 256,
    latent: Annotated[int, typer.Option(help="VAE latent size.")] = 32,
    word_dropout: Annotated[float, typer.Option(help="VAE: decoder input words replaced by <unk>.")] = 0.4,
    kl_anneal_steps: Annotated[int, typer.Option(help="VAE: steps over which the KL weight grows 0 -> 1.")] = 1000,
    free_bits: Annotated[float, typer.Option(help="VAE: minimum KL per latent dimension in the loss.")] = 0.125,
    tokenizer: Annotated[str, typer.Option(help="word, unigram or bpe (sentencepiece).")] = "word",
    vocab_size: Annotated[int, typer.Option(help="Vocabulary size limit.")] = 32000,
    min_count: Annotated[int, typer.Option(help="Word tokenizer: rarer words become <unk>.")] = 1,
    lang: Annotated[str, typer.Option(help="Language of the text (en: raw English is normalized).")] = "en",
    epochs: Annotated[int, typer.Option(help="Maximum passes over the training data.")] = 20,
    max_minutes: Annotated[float | None, typer.Option(help="Wall-clock budget in minutes.")] = None,
    batch_size: Annotated[int, typer.Option(help="Tokens per batch (padding included).")] = 1024,
    lr: Annotated[float, typer.Option(help="Learning rate (Adam).")] = 3e-3,
    patience: Annotated[int, typer.Option(help="Early stopping: epochs without dev improvement.")] = 3,
    schedule: Annotated[
        str | None, typer.Option(help="plateau, linear or cosine (to 0 when the budget ends), constant, inverse_sqrt.")
    ] = None,
    warmup: Annotated[int | None, typer.Option(help="Warm-up steps (linear, cosine, inverse_sqrt).")] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam, adamw or sgd (e.g. --lr 20 --clip-norm 0.25).")] = None,
    clip_norm: Annotated[float | None, typer.Option(help="Gradient-norm clipping (0: off).")] = None,
    batching: Annotated[
        str | None,
        typer.Option(help="stream (parallel streams, state carried across --bptt windows), sentences, or auto."),
    ] = None,
    bptt: Annotated[int | None, typer.Option(help="Stream batching: tokens per window.")] = None,
    bptt_jitter: Annotated[
        bool | None, typer.Option(help="Stream batching: window lengths drawn around --bptt (AWD-LSTM).")
    ] = None,
    precision: Annotated[
        str, typer.Option(help="auto, fp32 or bf16 (autocast; auto: bf16 on CPUs/GPUs with fast bf16).")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --name from its checkpoint.")] = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train a language model (RNN/LSTM/GRU/Transformer, or a window model with --context N)."""
    from seqtool.errors import OptionError
    from seqtool.models.lm import LMConfig
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.lm import TokenizerConfig, lm_train_config, train_lm
    from seqtool.training.run import unique_name

    setup_torch(threads)
    if name is None and resume:
        raise OptionError("--resume needs --name NAME of the run to continue")
    ws = Workspace(workspace)
    model_cfg = LMConfig(
        cell=cell, activation=activation, layers=layers, emb_dim=emb_dim, hidden=hidden, dropout=dropout,
        tie_weights=tie_weights, context=context, bidirectional=bidirectional, heads=heads, ff_dim=4 * emb_dim,
        kernel=kernel, dilation_cycle=dilation_cycle, channels=channels, latent=latent, word_dropout=word_dropout,
        kl_anneal_steps=kl_anneal_steps, free_bits=free_bits,
    )  # fmt: skip
    train_cfg = lm_train_config(
        epochs=epochs, max_minutes=max_minutes, batch_tokens=batch_size, lr=lr, patience=patience, seed=seed,
        precision=precision, schedule=schedule, warmup=warmup, optimizer=optimizer, clip_norm=clip_norm,
        batching=batching, bptt=bptt, bptt_jitter=bptt_jitter,
    )  # fmt: skip
    model_cfg.validate()
    train_cfg.validate()
    tok_cfg = TokenizerConfig(kind=tokenizer, vocab_size=vocab_size, min_count=min_count, lang=lang)
    sample = sample_data_dir() / "enja"
    name = name or unique_name(ws, f"{cell}-lm" if not context else f"{'bi' if bidirectional else ''}{cell}-window")
    from seqtool.cli.progress import TrainingProgress

    with TrainingProgress(("dev_ppl", "top1")) as progress:
        result = train_lm(
            ws, name, train or sample / "train.en", dev or sample / "dev.en", model_cfg, train_cfg, tok_cfg,
            device=device, resume=resume, threads=threads or 1, progress=progress,
        )  # fmt: skip
    from seqtool.training.distributed import is_main_process

    if not is_main_process():  # under torchrun only rank 0 reports
        return
    if json:
        print_json(training_summary(name, result))
    else:
        best = result.best
        console.print(
            f"[bold green]trained {name}[/]: best dev perplexity {best['value']:.2f} (epoch {best['epoch']}), "
            f"{result.epochs} epochs, {result.elapsed_s:.0f}s, {result.tokens_per_s:,.0f} tokens/s; "
            f"stopped: {result.stopped_because}"
        )


@app.command("predict-next")
def predict_next_cmd(
    text: Annotated[str, typer.Argument(help='The words so far, e.g. "some of them looks like".')],
    top: Annotated[int, typer.Option(help="How many candidates.")] = 5,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """The most probable next words after TEXT, with probabilities."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.lm import load_lm, predict_next

    setup_torch(None)
    lm = load_lm(Workspace(workspace), model, device)
    results = predict_next(lm, text, top)
    if json:
        print_json({"model": lm.md.name, "query": text, "results": [{"word": w, "probability": p} for w, p in results]})
        return
    table = Table(title=f'next word after "{text}" ({lm.md.name})')
    table.add_column("#", justify="right")
    table.add_column("word")
    table.add_column("probability", justify="right")
    for i, (w, p) in enumerate(results, 1):
        table.add_row(str(i), w, f"{p:.4f}")
    console.print(table)


@app.command("generate")
def generate_cmd(
    prompt: Annotated[str, typer.Option(help="Text to continue (may be empty).")] = "",
    max_words: Annotated[int, typer.Option(help="Maximum number of tokens to add.")] = 30,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (lower: more conservative).")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Sample among the k most probable tokens (0: all).")] = 0,
    num: Annotated[int, typer.Option("--num", "-n", help="How many samples.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Random seed for reproducible samples.")] = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Sample text from a language model."""
    from seqtool.errors import check_positive
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.lm import generate, load_lm

    check_positive("--num", num)
    setup_torch(None)
    lm = load_lm(Workspace(workspace), model, device)
    texts = [
        generate(lm, prompt, max_words, temperature, top_k, None if seed is None else seed + i) for i in range(num)
    ]
    if json:
        print_json({"model": lm.md.name, "prompt": prompt, "samples": texts})
    else:
        for t in texts:
            console.print(t)


@evaluate_app.command("lm")
def evaluate_lm_cmd(
    model: ModelOpt = None,
    data: Annotated[Path | None, typer.Option(help="Text to evaluate on \\[default: the model's dev set].")] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Per-word perplexity and next-word top-1/top-5 accuracy of a language model."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.lm import evaluate_lm, load_lm

    setup_torch(threads)
    lm = load_lm(Workspace(workspace), model, device)
    result = evaluate_lm(lm, data)
    kl = {"kl": result["dev_kl"]} if "dev_kl" in result else {}  # a VAE: perplexity is the ELBO bound
    if json:
        print_json({**{k: result[k] for k in ("model", "data", "perplexity", "top1", "top5")}, **kl})
        return
    table = Table(title=f"{result['model']} on {result['data']}")
    for col in ("perplexity (per word)" + (", ELBO bound" if kl else ""), "top-1", "top-5"):
        table.add_column(col, justify="right")
    if kl:
        table.add_column("KL (nats/sentence)", justify="right")
    table.add_row(
        f"{result['perplexity']:.2f}", f"{result['top1']:.1%}", f"{result['top5']:.1%}",
        *([f"{kl['kl']:.2f}"] if kl else []),
    )  # fmt: skip
    console.print(table)
