"""The dialogue kind: HRED/VHRED over one word tokenizer."""

from __future__ import annotations

from typing import Any

from seqtool.store.workspace import Workspace
from seqtool.tasks.kinds.base import ModelKind


class DialogKind(ModelKind):
    name = "dialog"
    title = "dialogue model"
    train_command = "seqtool train-dialog"

    @property
    def hint(self) -> str:
        return f"train one with `{self.train_command}`"

    def build(self, cfg: dict[str, Any]) -> Any:
        from seqtool.tasks.dialog import dialog_from_config

        return dialog_from_config(cfg["model"])

    def load(self, ws: Workspace, name: str | None, device: str = "auto", engine: str = "torch", **options: Any) -> Any:
        from seqtool.tasks.dialog import load_dialog

        return load_dialog(ws, name, device)

    def predict(self, loaded: Any, text: str, **options: Any) -> Any:
        from seqtool.tasks.dialog import respond

        history = [turn.strip() for turn in text.split("|") if turn.strip()]
        return respond(loaded, history, **options)
