"""Sequence-level knowledge distillation (Kim & Rush 2016) for translators.

:func:`distill` is the whole pipeline: the teacher translates the training source with beam search
(batched, :func:`~seqtool.tasks.mt.translate_texts`); the student is then trained by the ordinary
:func:`seqtool.tasks.mt.train_mt` on (source, teacher output) pairs: no second training loop. The teacher's output lives in the student's
folder (``distill.<tgt_lang>``) and the student's config records the teacher.

While the student trains, the teacher output waits in ``<workspace>/.distill-<student>/``: the
student's folder is created (and, on a failed set-up, removed) by ``train_mt`` itself, so the
file moves in only once training has finished. ``--resume`` reuses it instead of translating again.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtool.errors import OptionError, WorkspaceError
from seqtool.files import atomic_write_text
from seqtool.store.workspace import Workspace, validate_name

if TYPE_CHECKING:
    from seqtool.tasks.mt import MTRecipe
    from seqtool.training.config import TrainResult


@dataclass
class DistillPlan:
    """What train-mt needs to train the student, and what goes into its config afterwards."""

    src: Path
    tgt: Path  # the teacher's translations
    dev_src: Path
    dev_tgt: Path
    src_lang: str
    tgt_lang: str
    info: dict[str, Any]


def staging_dir(ws: Workspace, student: str) -> Path:
    return ws.root / f".distill-{student}"


def prepare(
    ws: Workspace, teacher: str, student: str, *, src: Path | None = None, beam: int = 5, batch_sentences: int = 64,
    limit: int = 0, resume: bool = False, device: str = "auto", progress: Callable[[int, int], None] = lambda d, t: None,
    engine: str = "auto", notify: Callable[[str], None] = lambda message: None,
) -> DistillPlan:  # fmt: skip
    """Translate the training source with the teacher (or reuse that output on --resume), on its exported
    CTranslate2 engine when it has one (``engine``, as `translate --engine`); ``progress(done, total)``
    reports the sentences translated so far."""
    from seqtool.tasks.mt import model_dev_files, read_texts
    from seqtool.tasks.translator import load_translator

    validate_name(student)
    if beam <= 0 or limit < 0:
        raise OptionError(f"--beam must be > 0 and --limit >= 0, got {beam} and {limit}")
    if student == teacher:
        raise OptionError("the student needs its own --name, not the teacher's")
    if not resume and ws.model_dir(student).path.exists():
        raise WorkspaceError(f"model {student!r} already exists in {ws.root}; choose another --name or --resume it")
    tr = load_translator(ws, teacher, device, engine=engine, notify=notify)
    data = tr.config.get("data") or {}
    src = src or Path(data.get("train_src", ""))
    if not src.is_file():
        raise OptionError(f"teacher {teacher!r} does not name a readable training source ({src}); give --src FILE")
    stage = staging_dir(ws, student)
    target = stage / f"train.{tr.config.get('tgt_lang', 'tgt')}"
    sources = read_texts(src)
    if limit:
        sources = sources[:limit]
        stage.mkdir(parents=True, exist_ok=True)
        atomic_write_text(stage / "train.src", "".join(s + "\n" for s in sources))
        src = stage / "train.src"
    seconds = 0.0
    if not (resume and target.is_file()):
        t0 = time.perf_counter()
        hyps = tr.translate(sources, tokenized=True, beam=beam, batch_sentences=batch_sentences,
                            progress=lambda done: progress(done, len(sources)))  # fmt: skip
        seconds = time.perf_counter() - t0
        atomic_write_text(target, "".join(t[0].text + "\n" for t in hyps))
    info = {"teacher": teacher, "teacher_arch": tr.config.get("arch"), "beam": beam, "teacher_engine": tr.engine,
            "sentences": len(sources), "source": str(src), "teacher_seconds": round(seconds, 1)}  # fmt: skip
    return DistillPlan(src, target, *model_dev_files(tr.config), tr.config["src_lang"], tr.config["tgt_lang"], info)


def finish(ws: Workspace, student: str, plan: DistillPlan) -> dict[str, Any]:
    """Move the teacher output into the student's folder and record the teacher in its config."""
    md = ws.model_dir(student)
    kept = md.file(f"distill.{plan.tgt_lang}")
    try:
        shutil.copyfile(plan.tgt, kept)
    except OSError as e:
        raise WorkspaceError(f"cannot write {kept} ({e.strerror})") from None
    src = plan.src
    if src.parent == staging_dir(ws, student):  # --limit: the first N sources were copied there
        src = md.file(f"distill-source.{plan.src_lang}")
        shutil.copyfile(plan.src, src)
    cfg = md.config()
    cfg["distill"] = {**plan.info, "source": str(src), "target_file": kept.name}
    cfg["data"] = {**cfg.get("data", {}), "train_src": str(src), "train_tgt": str(kept), "train": f"{src} {kept}"}
    md.write_config(cfg)
    shutil.rmtree(staging_dir(ws, student), ignore_errors=True)
    return cfg


def distill(
    ws: Workspace, teacher: str, student: str, recipe: MTRecipe, *, src: Path | None = None,
    dev_src: Path | None = None, dev_tgt: Path | None = None, beam: int = 5, batch_sentences: int = 64,
    limit: int = 0, resume: bool = False, device: str = "auto", threads: int = 1, teacher_engine: str = "auto",
    progress: Callable[[dict[str, Any]], None] = lambda _: None, notify: Callable[[str], None] = lambda message: None,
) -> TrainResult:  # fmt: skip
    """Train ``student`` (``recipe``: any architecture and size) on ``teacher``'s translations of the
    training source (``src``, default the teacher's own). Languages and dev data come from the teacher
    unless given. ``progress`` also gets ``{"event": "translate", "done", "total"}`` while the teacher works."""
    from seqtool.tasks.mt import train_mt
    from seqtool.training.distributed import is_main_process

    def teacher_progress(done: int, total: int) -> None:
        progress({"event": "translate", "what": "teacher translating", "done": done, "total": total})

    plan = prepare(ws, teacher, student, src=src, beam=beam, batch_sentences=batch_sentences, limit=limit,
                   resume=resume, device=device, progress=teacher_progress, engine=teacher_engine,
                   notify=notify)  # fmt: skip
    data_cfg = replace(recipe.data_cfg, src_lang=plan.src_lang, tgt_lang=plan.tgt_lang)
    result = train_mt(
        ws, student, plan.src, plan.tgt, dev_src or plan.dev_src, dev_tgt or plan.dev_tgt, recipe.arch,
        recipe.model_values, recipe.train_cfg, data_cfg, device=device, resume=resume, threads=threads,
        progress=progress,
    )  # fmt: skip
    if is_main_process():
        finish(ws, student, plan)
    return result
