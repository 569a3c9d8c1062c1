"""The translation kind: a source and a target tokenizer, an architecture from seqtool.models.seq2seq."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtool.store.workspace import Workspace
from seqtool.tasks.kinds.base import ModelKind, check_options


class MTKind(ModelKind):
    name = "mt"
    title = "translator"
    train_command = "seqtool train-mt"
    required_keys = ("kind", "arch", "model_arch", "model", "tokenizers")
    tokenizer_sections = (("tokenizers.src", "source tokenizer"), ("tokenizers.tgt", "target tokenizer"))
    compressible = True
    has_engines = True
    pools_requests = True
    reads_source = True

    def train(self, ws: Workspace, name: str | None, options: dict[str, Any], *, device: str = "auto",
              resume: bool = False, threads: int = 1, progress: Any = None) -> tuple[str, Any]:  # fmt: skip
        from seqtool.data.mix import CorpusMix
        from seqtool.tasks.mt import MT_OPTIONS, default_mt_data, default_mt_name, mt_recipe, train_mt
        from seqtool.training.run import unique_name

        check_options(options, MT_OPTIONS, "train mt")

        recipe = mt_recipe(options)
        d = recipe.data_cfg
        given = {k: Path(options[k]) if options.get(k) else None for k in ("src", "tgt", "mix", "dev_src", "dev_tgt")}
        mix = CorpusMix.from_options(given.pop("mix"), given["src"], given["tgt"])
        files = default_mt_data(*given.values(), d.src_lang, d.tgt_lang)
        name = name or unique_name(ws, default_mt_name(d, recipe.arch))
        return name, train_mt(ws, name, *files, recipe.arch, recipe.model_values, recipe.train_cfg, d, device=device,
                              resume=resume, threads=threads, progress=progress or (lambda _: None), mix=mix)  # fmt: skip

    def languages(self, cfg: dict[str, Any]) -> list[str]:
        return [str(cfg.get("src_lang", "")), str(cfg.get("tgt_lang", ""))]

    def build(self, cfg: dict[str, Any]) -> Any:
        from seqtool.tasks.mt import translator_from_config

        return translator_from_config(cfg)

    def vocab_sizes(self, cfg: dict[str, Any], model: Any) -> list[int]:
        return [int(model.cfg.src_vocab), int(model.cfg.tgt_vocab)]

    def load(self, ws: Workspace, name: str | None, device: str = "auto", engine: str = "torch", **options: Any) -> Any:
        """The translator on ``engine`` (auto: an exported CTranslate2 copy where usable; options: threads,
        workers, notify of :func:`seqtool.tasks.translator.load_translator`)."""
        from seqtool.tasks.translator import load_translator

        return load_translator(ws, name, device, engine=engine, **options)

    def export_problem(self, name: str, cfg: dict[str, Any]) -> str | None:
        from seqtool.models.seq2seq import TRANSLATOR_ARCHS

        cls = TRANSLATOR_ARCHS.get(str(cfg.get("model_arch")), (None, {}))[0]
        if getattr(cls, "exportable", False):
            return None
        return (f"model {name!r} is a {cfg.get('arch') or cfg.get('model_arch')} translator: CTranslate2 runs only "
                "Transformer models (no GRU/LSTM support); translate it with seqtool's own engine (--engine torch)")  # fmt: skip

    def ct2_spec(self, model: dict[str, Any], weights: dict[str, Any], vocabs: list[list[str]], positions: Any) -> Any:
        from seqtool.engines.ct2 import translator_spec

        return translator_spec(model, weights, vocabs, positions)

    def positions(self, model: Any) -> Any:
        return model.decoder.positions

    def measure(self, loaded: Any, src: Path | None, ref: Path | None, beam: int, limit: int) -> dict[str, Any]:
        import time

        from seqtool.metrics import bleu_only
        from seqtool.tasks.decoding_tuning import model_tokenize
        from seqtool.tasks.mt import model_dev_files, read_dev

        src_file, ref_file = model_dev_files(loaded.config, src, ref)
        sources, refs = read_dev(src_file, ref_file)
        if limit:
            sources, refs = sources[:limit], refs[:limit]
        tokenize = model_tokenize(loaded.config, refs, ref=ref_file)  # the model's BLEU tokenizer on its dev set
        loaded.translate(sources[:8], tokenized=True, beam=beam)  # warm-up: first calls pay one-off costs
        t0 = time.perf_counter()
        hyps = [t[0].text for t in loaded.translate(sources, tokenized=True, beam=beam)]
        seconds = time.perf_counter() - t0
        return dict(data=str(src), sentences=len(sources), seconds=round(seconds, 2),
                    sentences_per_s=round(len(sources) / seconds, 2), speed="sentences/s (beam)", quality="bleu", quality_label="BLEU",
                    bleu=round(bleu_only(hyps, refs, tokenize), 2), tokenize=tokenize.name)  # fmt: skip

    def check_score_inputs(self, name: str, with_sources: bool) -> None:
        if not with_sources:
            from seqtool.errors import OptionError

            raise OptionError(f"model {name!r} is a translator: give --src FILE and --hyp FILE (or TSV lines "
                              "source<TAB>hypothesis on stdin), not --text")  # fmt: skip

    def score(self, loaded: Any, texts: list[str], sources: list[str] | None) -> list[Any]:
        from seqtool.tasks.scoring import score_translations

        return score_translations(loaded, sources or [], texts)

    def predict(self, loaded: Any, text: str, **options: Any) -> Any:
        found = loaded.translate([text], **options)[0]
        return [{"text": t.text, "score": t.hypothesis.score} for t in found]
