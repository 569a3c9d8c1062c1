"""The language-model kind: one tokenizer, a cell from seqtool.models.lm's registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtool.errors import OptionError
from seqtool.store.workspace import Workspace
from seqtool.tasks.kinds.base import ModelKind, check_options


def _path(value: Any) -> Path | None:
    return Path(value) if value else None


class LMKind(ModelKind):
    name = "lm"
    title = "language model"
    train_command = "seqtool train-lm"
    compressible = True
    has_engines = True

    def train(self, ws: Workspace, name: str | None, options: dict[str, Any], *, device: str = "auto",
              resume: bool = False, threads: int = 1, progress: Any = None) -> tuple[str, Any]:  # fmt: skip
        from seqtool.tasks.lm import default_lm_data, default_lm_name, lm_options, lm_recipe, train_lm
        from seqtool.training.run import unique_name

        check_options(options, lm_options(), "train lm")

        recipe = lm_recipe(options)
        train, dev = default_lm_data(_path(options.get("train")), _path(options.get("dev")))
        name = name or unique_name(ws, default_lm_name(recipe.model_cfg))
        return name, train_lm(ws, name, train, dev, recipe.model_cfg, recipe.train_cfg, recipe.tok_cfg, device=device,
                              resume=resume, threads=threads, progress=progress or (lambda _: None))  # fmt: skip

    def build(self, cfg: dict[str, Any]) -> Any:
        from seqtool.tasks.lm import lm_from_config

        return lm_from_config(cfg["model"])

    def load(self, ws: Workspace, name: str | None, device: str = "auto", engine: str = "torch", **options: Any) -> Any:
        from seqtool.tasks.lm import load_lm

        return load_lm(ws, name, device)

    def export_problem(self, name: str, cfg: dict[str, Any]) -> str | None:
        from seqtool.models.lm import lm_config

        if lm_config(cfg.get("model") or {}).exportable:
            return None
        return (f"model {name!r} is a {cfg.get('arch')} language model: CTranslate2 runs only Transformer models "
                "(no recurrent or convolutional ones); use it with seqtool's own commands (predict, generate, "
                "evaluate lm)")  # fmt: skip

    def ct2_spec(self, model: dict[str, Any], weights: dict[str, Any], vocabs: list[list[str]], positions: Any) -> Any:
        from seqtool.engines.ct2 import decoder_spec

        return decoder_spec(model, weights, vocabs, positions)

    def positions(self, model: Any) -> Any:
        return model.stack.positions

    def measure(self, loaded: Any, src: Path | None, ref: Path | None, beam: int, limit: int) -> dict[str, Any]:
        import time

        from seqtool.tasks.lm import dev_lines, score_lines

        data = src or Path(loaded.config["data"]["dev"])
        lines = dev_lines(data)[: limit or None]
        score_lines(loaded.model, loaded.tokenizer, lines[:8], loaded.device)  # warm-up
        t0 = time.perf_counter()
        scores = score_lines(loaded.model, loaded.tokenizer, lines, loaded.device)
        seconds = time.perf_counter() - t0
        return dict(data=str(data), sentences=len(lines), seconds=round(seconds, 2),
                    sentences_per_s=round(len(lines) / seconds, 2), speed="sentences/s (scoring)",
                    quality="perplexity", quality_label="perplexity", perplexity=round(scores["dev_ppl"], 2))  # fmt: skip

    def check_score_inputs(self, name: str, with_sources: bool) -> None:
        if with_sources:
            raise OptionError(f"model {name!r} is a language model: it scores sentences without a source; "
                              "give --text FILE, not --src/--hyp")  # fmt: skip

    def score(self, loaded: Any, texts: list[str], sources: list[str] | None) -> list[Any]:
        from seqtool.tasks.scoring import score_sentences

        return score_sentences(loaded, texts)

    def predict(self, loaded: Any, text: str, **options: Any) -> Any:
        from seqtool.tasks.lm import predict_next

        top = int(options.get("top", 5))
        if top <= 0:
            raise OptionError(f"top must be > 0, got {top}")
        return [{"word": w, "probability": p} for w, p in predict_next(loaded, text, top=top)]
