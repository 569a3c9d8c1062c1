"""Shared fixtures and helpers: a temporary workspace, the sample data, CLI runners that check exit codes,
tiny trained translators, and hand-built model folders (tiny untrained models with word vocabularies, so
the tests that use them cost milliseconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from seqtool.data.tokenizers import SPECIALS, WordTokenizer
from seqtool.files import now_iso
from seqtool.models.lm import build_lm, lm_config
from seqtool.models.seq2seq import build_translator, translator_config
from seqtool.store.weights import save_weights
from seqtool.store.workspace import ModelDir, Workspace
from seqtool.training.config import TrainResult, describe

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests train tiny models; one torch thread avoids oversubscription when tests run in parallel.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def sample() -> Path:
    return SAMPLE


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None):
    """Run `python -m seqtool ARGS` in a subprocess (the real entry point, real exit codes)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "seqtool", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=input,
        env=full_env,
        timeout=600,
    )


def assert_clean_error(result, *needles: str) -> None:
    """A user error: exit code 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def corpus_lines(path: Path) -> list[str]:
    """The non-empty lines of a text file, stripped (what the trainers and evaluators read)."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


SMALL_RNN = {"emb_dim": 64, "hidden": 64, "dropout": 0.0}


def train_tiny_mt(
    root: Path, arch: str = "gru", epochs: int = 6, *, src_lang: str = "en", tgt_lang: str = "ja",
    name: str | None = None, train: dict[str, Any] | None = None, **model: Any,
) -> tuple[Workspace, TrainResult]:  # fmt: skip
    """A small translator trained on the sample pairs (en->ja, or ja->en with the sides swapped)."""
    from seqtool.tasks.mt import MTDataConfig, mt_train_config, train_mt

    torch.set_num_threads(1)
    ws = Workspace(root)
    d = SAMPLE / "enja"
    values = {**(SMALL_RNN if arch != "transformer" else {}), **model}
    settings = {"epochs": epochs, "batch_tokens": 1000, "lr": 3e-3, "warmup": 50, "average_last": 0, **(train or {})}
    files = [d / f"{part}.{lang}" for part in ("train", "dev") for lang in (src_lang, tgt_lang)]
    result = train_mt(
        ws, name or f"mt-{arch}", files[0], files[1], files[2], files[3], arch, values,
        mt_train_config(arch, **settings), MTDataConfig(src_lang, tgt_lang, src_vocab=300, tgt_vocab=300),
    )  # fmt: skip
    return ws, result


EN = ["i", "can", "'t", "swim", ".", "my", "father", "likes", "tea", "and", "the", "dog", "runs"]
JA = ["私", "は", "泳げ", "な", "い", "。", "父", "が", "お茶", "好き", "犬"]


def make_lm_folder(folder: Path, name: str = "tiny-lm") -> Path:
    """A complete, usable LM folder (untrained weights) like the ones `train-lm` writes."""
    md = ModelDir(folder)
    tok = WordTokenizer([*SPECIALS, *EN], normalize="english")
    tok_entry = tok.save(md.path, "tokenizer")
    model_cfg = lm_config(vocab_size=tok.vocab_size, cell="gru", layers=1, emb_dim=16, hidden=16, dropout=0.0)
    torch.manual_seed(0)
    model = build_lm(model_cfg)
    save_weights(model, md.weights_path)
    md.write_config(
        {
            "name": name,
            "kind": "lm",
            "arch": "gru-lm",
            "created": now_iso(),
            "status": "done",
            "parameters": model.num_parameters(),
            "data": {"train": "elsewhere.txt", "dev": "elsewhere-dev.txt"},
            "model": describe(model_cfg),
            "tokenizer": {**tok_entry, "lang": "en", "min_count": 1},
            "best": {"metric": "dev_ppl", "value": 99.0, "epoch": 1},
        }  # fmt: skip
    )
    md.metrics_path.write_text(json.dumps({"epoch": 1, "step": 3, "train_loss": 4.0, "dev_ppl": 99.0}) + "\n")
    return folder


def make_mt_folder(folder: Path, name: str = "tiny-mt") -> Path:
    """A complete, usable translator folder (GRU + attention, untrained weights)."""
    md = ModelDir(folder)
    src, tgt = WordTokenizer([*SPECIALS, *EN], normalize="english"), WordTokenizer([*SPECIALS, *JA])
    toks = {"src": src.save(md.path, "src"), "tgt": tgt.save(md.path, "tgt")}
    values = dict(src_vocab=src.vocab_size, tgt_vocab=tgt.vocab_size, emb_dim=16, hidden=16, attention="luong")
    model_cfg = translator_config("gru", values)
    torch.manual_seed(0)
    model = build_translator(model_cfg)
    save_weights(model, md.weights_path)
    md.write_config(
        {
            "name": name,
            "kind": "mt",
            "arch": "gru+luong",
            "model_arch": "gru",
            "created": now_iso(),
            "status": "done",
            "src_lang": "en",
            "tgt_lang": "ja",
            "parameters": model.num_parameters(),
            "model": describe(model_cfg),
            "tokenizers": toks,
            "data": {"train": "a b", "dev": "c d"},
            "best": {"metric": "dev_bleu", "value": 1.0, "epoch": 1},
        }  # fmt: skip
    )
    return folder


def make_embeddings_folder(folder: Path, name: str = "tiny-vec") -> Path:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(EN, np.random.default_rng(0).normal(size=(len(EN), 4)).astype(np.float32))
    folder.mkdir(parents=True)
    kv.save_word2vec_format(str(folder / "vectors.bin"), binary=True)
    ModelDir(folder).write_config(
        {"name": name, "kind": "embeddings", "arch": "skipgram", "created": now_iso(), "status": "done",
         "vectors": {"file": "vectors.bin", "format": "word2vec-bin"}, "data": {"train": "x"}, "best": None}
    )  # fmt: skip
    return folder


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: "the workspace is unchanged" is equality of these."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run_main(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """The CLI in-process (fast: no new interpreter); returns exit code, stdout, stderr."""
    capsys.readouterr()
    from seqtool.cli import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
