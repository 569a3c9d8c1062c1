"""Sentence-VAE commands: `vae reconstruct`, `vae interpolate` (training is `train-lm --cell vae`)."""

from __future__ import annotations

from typing import Annotated

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import DeviceOpt, JsonOpt, ModelOpt, WorkspaceOpt, console, print_json, setup_torch

vae_app = typer.Typer(help="Sentence VAE: reconstruct a sentence, interpolate between two.", no_args_is_help=True)
app.add_typer(vae_app, name="vae", rich_help_panel=panels.LM)


@vae_app.command("reconstruct")
def reconstruct_cmd(
    text: Annotated[str, typer.Argument(help="A sentence to encode and decode back.")],
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Decode a sentence from its latent mean."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.vae import load_vae, reconstruct

    setup_torch(None)
    lm = load_vae(Workspace(workspace), model, device)
    out = reconstruct(lm, text)
    if json:
        print_json({"model": lm.md.name, "input": text, "reconstruction": out})
    else:
        console.print(out)


@vae_app.command("interpolate")
def interpolate_cmd(
    a: Annotated[str, typer.Argument(help="First sentence.")],
    b: Annotated[str, typer.Argument(help="Second sentence.")],
    steps: Annotated[int, typer.Option(help="Sentences to decode, both ends included.")] = 5,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Decode evenly spaced points between two sentences' latents."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.vae import interpolate, load_vae

    setup_torch(None)
    lm = load_vae(Workspace(workspace), model, device)
    points = interpolate(lm, a, b, steps)
    if json:
        print_json({"model": lm.md.name, "steps": [{"alpha": t, "text": s} for t, s in points]})
        return
    for t, s in points:
        console.print(f"{t:.2f}  {s}")
