"""Sequence-level knowledge distillation (Kim & Rush 2016) for translators.

The teacher translates the training source with beam search (batched, :func:`translate_texts`);
the student is then trained by the ordinary :func:`seqtool.tasks.mt.train_mt` on (source,
teacher output) pairs: no second training loop. The teacher's output lives in the student's
folder (``distill.<tgt_lang>``) and the student's config records the teacher.

While the student trains, the teacher output waits in ``<workspace>/.distill-<student>/``: the
student's folder is created (and, on a failed set-up, removed) by ``train_mt`` itself, so the
file moves in only once training has finished. ``--resume`` reuses it instead of translating again.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtool.errors import OptionError, WorkspaceError
from seqtool.files import atomic_write_text
from seqtool.store.workspace import Workspace, validate_name


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
    from seqtool.tasks.mt import read_texts
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
        atomic_write_text(target, "".join(h[0] + "\n" for h in hyps))
    info = {"teacher": teacher, "teacher_arch": tr.config.get("arch"), "beam": beam, "teacher_engine": tr.engine, "sentences": len(sources),
            "source": str(src), "teacher_seconds": round(seconds, 1)}  # fmt: skip
    return DistillPlan(src, target, Path(data["dev_src"]), Path(data["dev_tgt"]), tr.config["src_lang"],
                       tr.config["tgt_lang"], info)  # fmt: skip


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
