"""Options and output helpers shared by every command module.

Command modules import only this, typer and the standard library at module level: torch and
gensim are imported inside the command functions, so `seqtool --help` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from seqtool.files import sample_data_dir as sample_data_dir  # re-exported for the command modules
from seqtool.machine import usable_cores

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="SEQTOOL_WORKSPACE",
        help="Workspace directory holding models and figures \\[default: ./workspace].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="Model name \\[default: the workspace default of this kind].")
]
ThreadsOpt = Annotated[
    int | None, typer.Option("--threads", help="CPU threads for torch \\[default: all cores].", show_default=False)
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="auto (an exported CTranslate2 engine when the model has one, else torch), torch or ctranslate2.",
    ),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda (auto picks a GPU when present).")]


def notice(message: str) -> None:
    """One dim line on stderr (e.g. an engine that cannot be used, and what is used instead)."""
    err_console.print(f"note: {message}", style="dim", markup=False, highlight=False, soft_wrap=True)


def print_json(obj: Any) -> None:
    """JSON for scripts: one document on stdout, UTF-8, no rich markup."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def local_processes() -> int:
    """Processes sharing this machine's cores: torchrun's LOCAL_WORLD_SIZE (1 without torchrun)."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def setup_torch(threads: int | None) -> None:
    """Import torch and set its thread count (all cores unless told otherwise)."""
    import torch

    from seqtool.errors import check_positive

    if threads is not None:
        check_positive("--threads", threads)
    torch.set_num_threads(threads or max(1, usable_cores() // local_processes()))


def training_summary(name: str, result: Any) -> dict[str, Any]:
    """The documented `--json` shape of `train-lm` and `train-mt` (result: seqtool.training.config.TrainResult)."""
    return {
        "name": name, "best": result.best, "epochs": result.epochs, "steps": result.steps,
        "elapsed_s": round(result.elapsed_s, 1), "tokens_per_s": round(result.tokens_per_s, 1),
        "stopped": result.stopped_because,
    }  # fmt: skip


def report_training(name: str, result: Any, as_json: bool, extra: dict[str, Any] | None = None) -> bool:
    """The end of `train-lm` / `train-mt`: under torchrun only rank 0 reports; ``--json`` prints the summary
    (plus ``extra``). True when the caller should print its one-line human summary."""
    if not is_main_process():
        return False
    if as_json:
        print_json({**training_summary(name, result), **(extra or {})})
        return False
    return True


def is_main_process() -> bool:
    """Rank 0 under torchrun, or a single process."""
    from seqtool.training.distributed import is_main_process as main_process

    return main_process()
