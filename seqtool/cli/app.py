"""The Typer app and its command groups. Command modules attach themselves to these objects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli import panels

app = typer.Typer(
    name="seqtool",
    help="Train, run, compare and evaluate sequence models: RNN/LSTM/GRU/Transformer language models, "
    "neural machine translation and word embeddings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
evaluate_app = typer.Typer(
    help="Evaluate models: perplexity, BLEU/chrF/TER, analogies, similarity.", no_args_is_help=True
)
models_app = typer.Typer(
    help="List, inspect, compare, import and remove workspace models.", invoke_without_command=True
)
data_app = typer.Typer(help="Corpus statistics and downloads.", no_args_is_help=True)
plot_app = typer.Typer(help="Figures: learning curves, embeddings.", no_args_is_help=True)
experiment_app = typer.Typer(help="The course's experiments as commands, with pictures.", no_args_is_help=True)

app.add_typer(evaluate_app, name="evaluate", rich_help_panel=panels.EVAL)
app.add_typer(plot_app, name="plot", rich_help_panel=panels.EVAL)
app.add_typer(models_app, name="models", rich_help_panel=panels.MODELS)
app.add_typer(data_app, name="data", rich_help_panel=panels.MODELS)
app.add_typer(experiment_app, name="experiment", rich_help_panel=panels.EXP)

# Every other module in seqtool/cli registers its commands on import (see seqtool.cli.main): a new
# command is a new function in one of them, or a new file, plus its line in seqtool.cli.COMMAND_MODULES
# (which keeps start-up short; tests/test_cli_help.py says when the line is missing).


@app.callback()
def _global_options(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace directory for every command \\[default: ./workspace].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Options before the command name apply to every command (they set SEQTOOL_WORKSPACE)."""
    if workspace is not None:
        os.environ["SEQTOOL_WORKSPACE"] = str(workspace)
