"""Language-model commands: `train-lm`, `predict-next`, `generate`, `evaluate lm`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seqtool.cli import panels
from seqtool.cli.app import app, evaluate_app
from seqtool.cli.common import (
    DeviceOpt,
    JsonOpt,
    ModelOpt,
    ThreadsOpt,
    WorkspaceOpt,
    console,
    print_json,
    report_training,
    setup_torch,
)
from seqtool.cli.runfile import ConfigFileOpt, recorded_run

CELL_HELP = "rnn, lstm, gru, transformer, wavenet or vae (sentence VAE)."


@app.command("train-lm", rich_help_panel=panels.LM)
def train_lm_cmd(
    ctx: typer.Context,
    cell: Annotated[str | None, typer.Option(help=CELL_HELP)] = None,
    train: Annotated[
        Path | None, typer.Option(help="Training text, one sentence per line \\[default: sample data].")
    ] = None,
    dev: Annotated[
        Path | None, typer.Option(help="Dev text for per-epoch perplexity \\[default: sample data].")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name \\[default: <cell>-lm, numbered if taken].")] = None,
    activation: Annotated[str | None, typer.Option(help="Plain RNN activation: tanh or relu.")] = None,
    layers: Annotated[int | None, typer.Option(help="Recurrent or Transformer layers.")] = None,
    emb_dim: Annotated[int | None, typer.Option(help="Embedding size (the Transformer's width).")] = None,
    hidden: Annotated[int | None, typer.Option(help="Recurrent state size.")] = None,
    dropout: Annotated[float | None, typer.Option(help="Dropout probability.")] = None,
    tie_weights: Annotated[bool | None, typer.Option(help="Share input embedding and output layer.")] = None,
    context: Annotated[
        int | None, typer.Option(help="Window model: predict from the N previous words (0: causal LM).")
    ] = None,
    bidirectional: Annotated[bool | None, typer.Option(help="Window model only: read the window both ways.")] = None,
    heads: Annotated[int | None, typer.Option(help="Transformer attention heads.")] = None,
    ff_dim: Annotated[
        int | None, typer.Option(help="Transformer feed-forward size \\[default: 4 x --emb-dim].")
    ] = None,
    kernel: Annotated[int | None, typer.Option(help="WaveNet convolution width.")] = None,
    dilation_cycle: Annotated[
        int | None, typer.Option(help="WaveNet: dilations 1, k, k^2 .. k^(cycle-1), repeated.")
    ] = None,
    channels: Annotated[int | None, typer.Option(help="WaveNet residual/skip channels.")] = None,
    latent: Annotated[int | None, typer.Option(help="VAE latent size.")] = None,
    word_dropout: Annotated[float | None, typer.Option(help="VAE: decoder input words replaced by <unk>.")] = None,
    kl_anneal_steps: Annotated[
        int | None, typer.Option(help="VAE: steps over which the KL weight grows 0 -> 1.")
    ] = None,
    free_bits: Annotated[float | None, typer.Option(help="VAE: minimum KL per latent dimension in the loss.")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="word, unigram or bpe (sentencepiece).")] = None,
    vocab_size: Annotated[int | None, typer.Option(help="Vocabulary size limit.")] = None,
    min_count: Annotated[int | None, typer.Option(help="Word tokenizer: rarer words become <unk>.")] = None,
    lang: Annotated[str | None, typer.Option(help="Language of the text (en: raw English is normalized).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum passes over the training data.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Wall-clock budget in minutes.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Tokens per batch (padding included).")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (Adam).")] = None,
    patience: Annotated[int | None, typer.Option(help="Early stopping: epochs without dev improvement.")] = None,
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
        str | None, typer.Option(help="auto, fp32 or bf16 (autocast; auto: bf16 on CPUs/GPUs with fast bf16).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --name from its checkpoint.")] = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    config: ConfigFileOpt = None,
) -> None:
    """Train a language model (RNN/LSTM/GRU/Transformer/WaveNet, or a window model with --context N)."""
    options = {k: v for k, v in locals().items() if k != "ctx"}
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.lm import default_lm_data, default_lm_name, lm_recipe, train_lm
    from seqtool.training.run import unique_name

    recipe = lm_recipe(options)
    setup_torch(threads)
    if name is None and resume:
        raise OptionError("--resume needs --name NAME of the run to continue")
    ws = Workspace(workspace)
    train, dev = default_lm_data(train, dev)
    name = name or unique_name(ws, default_lm_name(recipe.model_cfg))
    from seqtool.cli.progress import TrainingProgress

    resolved = {"train": train, "dev": dev, "seed": recipe.train_cfg.seed}
    with TrainingProgress(("dev_ppl", "top1"), json=json) as progress, recorded_run(ctx, ws, name, resume, resolved):
        result = train_lm(ws, name, train, dev, recipe.model_cfg, recipe.train_cfg, recipe.tok_cfg, device=device,
                          resume=resume, threads=threads or 1, progress=progress)  # fmt: skip
    if report_training(name, result, json):
        best = result.best
        console.print(
            f"[bold green]trained {name}[/]: best dev perplexity {best['value']:.2f} (epoch {best['epoch']}), "
            f"{result.epochs} epochs, {result.elapsed_s:.0f}s, {result.tokens_per_s:,.0f} tokens/s; "
            f"stopped: {result.stopped_because}"
        )


@app.command("predict-next", rich_help_panel=panels.LM)
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


@app.command("generate", rich_help_panel=panels.LM)
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
