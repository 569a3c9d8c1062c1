"""Dialogue commands: `train-dialog`, `respond`, `chat`, `evaluate dialog`."""

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
    sample_data_dir,
    setup_torch,
)
from seqtool.cli.runfile import ConfigFileOpt, recorded_run

TempOpt = Annotated[
    float, typer.Option(help="0: greedy words (VHRED still draws its latent); > 0: sample words at this temperature.")
]


@app.command("train-dialog", rich_help_panel=panels.LM)
def train_dialog_cmd(
    ctx: typer.Context,
    arch: Annotated[str, typer.Option(help="hred or vhred.")] = "hred",
    data: Annotated[
        Path | None,
        typer.Option(help="Dialogues: one utterance per line, blank line between dialogues \\[default: sample data]."),
    ] = None,
    dev: Annotated[Path | None, typer.Option(help="Dev dialogues \\[default: sample data].")] = None,
    context: Annotated[
        int | None, typer.Option(help="Utterances read before each reply (1: seq2seq on the last).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name \\[default: <arch>, numbered if taken].")] = None,
    emb_dim: Annotated[int | None, typer.Option(help="Embedding size.")] = None,
    hidden: Annotated[int | None, typer.Option(help="Utterance encoder and decoder size.")] = None,
    context_hidden: Annotated[int | None, typer.Option(help="Context RNN size.")] = None,
    dropout: Annotated[float | None, typer.Option(help="Dropout probability.")] = None,
    latent: Annotated[int | None, typer.Option(help="VHRED latent size.")] = None,
    word_dropout: Annotated[float | None, typer.Option(help="VHRED: decoder input words replaced by <unk>.")] = None,
    kl_anneal_steps: Annotated[
        int | None, typer.Option(help="VHRED: steps over which the KL weight grows 0 -> 1.")
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the text (en: raw English is normalized).")] = "en",
    epochs: Annotated[int | None, typer.Option(help="Maximum passes over the training data.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Wall-clock budget in minutes.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Tokens per batch (context and reply).")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (Adam).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --name.")] = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    config: ConfigFileOpt = None,
) -> None:
    """Train a dialogue model (HRED, or VHRED with a latent per reply) on the last --context utterances."""
    from seqtool.cli.progress import TrainingProgress
    from seqtool.errors import OptionError, settings_as_options
    from seqtool.models.hred import DialogConfig
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.dialog import dialog_train_config, train_dialog
    from seqtool.training.run import unique_name

    setup_torch(threads)
    if name is None and resume:
        raise OptionError("--resume needs --name NAME of the run to continue")
    given = dict(context=context, emb_dim=emb_dim, hidden=hidden, context_hidden=context_hidden, dropout=dropout,
                 latent=latent, word_dropout=word_dropout, kl_anneal_steps=kl_anneal_steps)  # fmt: skip
    model_cfg = DialogConfig(arch=arch, **{k: v for k, v in given.items() if v is not None})  # None: the default
    with settings_as_options():
        model_cfg.validate()
    train_cfg = dialog_train_config(epochs=epochs, max_minutes=max_minutes, batch_tokens=batch_size, lr=lr, seed=seed)
    train_cfg.validate()
    ws = Workspace(workspace)
    sample = sample_data_dir() / "dialog"
    suffix = "ja" if lang == "ja" else "en"
    name = name or unique_name(ws, arch)
    data, dev = data or sample / f"train.{suffix}", dev or sample / f"dev.{suffix}"
    resolved = {"data": data, "dev": dev, "seed": train_cfg.seed}
    with TrainingProgress(("dev_ppl",), json=json) as progress, recorded_run(ctx, ws, name, resume, resolved):
        result = train_dialog(
            ws, name, data, dev, model_cfg, train_cfg,
            lang=lang, device=device, resume=resume, progress=progress,
        )  # fmt: skip
    if report_training(name, result, json):
        console.print(
            f"[bold green]trained {name}[/]: best dev perplexity {result.best['value']:.2f} "
            f"(epoch {result.best['epoch']}), {result.epochs} epochs, {result.elapsed_s:.0f}s; "
            f"stopped: {result.stopped_because}"
        )


@app.command("respond", rich_help_panel=panels.LM)
def respond_cmd(
    utterances: Annotated[list[str] | None, typer.Argument(help="The conversation so far, oldest first.")] = None,
    num: Annotated[int, typer.Option("--num", "-n", help="How many replies.")] = 1,
    temperature: TempOpt = 0.0,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Reply to a conversation: `seqtool respond "hello , how are you ?"`."""
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.dialog import load_dialog, respond

    if not utterances or not any(u.strip() for u in utterances):
        raise OptionError('respond needs at least one utterance, e.g. seqtool respond "hello , how are you ?"')
    setup_torch(None)
    dm = load_dialog(Workspace(workspace), model, device)
    replies = respond(dm, utterances, num, temperature, seed)
    if json:
        print_json({"model": dm.md.name, "history": utterances, "replies": replies})
    else:
        for r in replies:
            console.print(r)


@app.command("chat", rich_help_panel=panels.LM)
def chat_cmd(
    temperature: TempOpt = 0.0,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    workspace: WorkspaceOpt = None,
) -> None:
    """Talk with a dialogue model; it keeps the history (an empty line or Ctrl-D ends)."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.dialog import load_dialog, respond

    setup_torch(None)
    dm = load_dialog(Workspace(workspace), model, device)
    console.print(f"chatting with {dm.md.name} (empty line to stop)")
    history: list[str] = []
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            break
        if not line:
            break
        history.append(line)
        (reply,) = respond(dm, history, 1, temperature)
        history.append(reply)
        console.print(reply)


@evaluate_app.command("dialog")
def evaluate_dialog_cmd(
    model: ModelOpt = None,
    data: Annotated[
        Path | None, typer.Option(help="Dialogues to evaluate on \\[default: the model's dev set].")
    ] = None,
    samples: Annotated[int, typer.Option(help="Replies sampled per context for distinct-1/2.")] = 5,
    temperature: TempOpt = 0.0,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Per-word perplexity of the reference replies; distinct-1/distinct-2 of sampled replies."""
    from seqtool.errors import check_positive
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.dialog import evaluate_dialog, load_dialog

    check_positive("--samples", samples)
    setup_torch(threads)
    dm = load_dialog(Workspace(workspace), model, device)
    result = evaluate_dialog(dm, data, samples, temperature)
    if json:
        print_json(result)
        return
    table = Table(title=f"{result['model']} on {result['data']}")
    kl = "kl" in result  # VHRED: the perplexity is the ELBO bound
    for col in ("perplexity (per word)" + (", ELBO bound" if kl else ""), "distinct-1", "distinct-2", "replies"):
        table.add_column(col, justify="right")
    if kl:
        table.add_column("KL (nats/reply)", justify="right")
    table.add_row(
        f"{result['perplexity']:.2f}", f"{result['distinct1']:.3f}", f"{result['distinct2']:.3f}",
        str(result["replies"]), *([f"{result['kl']:.2f}"] if kl else []),
    )  # fmt: skip
    console.print(table)
