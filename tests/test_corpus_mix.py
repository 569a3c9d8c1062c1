"""Several training corpora with weights (``train-mt --mix FILE``, seqtool.data.mix): shares, errors, learning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqtool.data.mix import CorpusMix, weighted_batches, weighted_epoch
from seqtool.errors import OptionError
from seqtool.files import sample_data_dir
from tests.conftest import assert_clean_error, run_cli

SAMPLE = sample_data_dir() / "enja"


def test_each_epoch_draws_the_corpora_by_their_weights() -> None:
    sizes, weights = [100, 20], [1.0, 3.0]  # the small corpus gets three quarters of every epoch
    first = weighted_epoch(sizes, weights, seed=1, epoch=0)
    assert len(first) == 120
    from_small = first[first >= 100]
    assert len(from_small) == 90  # 4.5 passes over it: every pair 4 or 5 times
    assert set(np.bincount(from_small - 100, minlength=20).tolist()) <= {4, 5}
    from_large = first[first < 100]
    assert len(from_large) == 30 and len(set(from_large.tolist())) == 30  # 30 different pairs of 100
    assert np.array_equal(first, weighted_epoch(sizes, weights, seed=1, epoch=0))  # a resumed epoch is the same
    other = weighted_epoch(sizes, weights, seed=1, epoch=1)
    assert set(other[other < 100].tolist()) != set(from_large.tolist())  # another part of it the next epoch


def test_weighted_batches_cover_the_drawn_pairs_within_the_token_limit() -> None:
    lengths = np.array([3, 5, 8, 2, 7, 4, 6], dtype=np.int64)
    batches = weighted_batches(lengths, [4, 3], [1.0, 1.0], max_tokens=12, seed=0, epoch=0)
    drawn = np.sort(np.concatenate(batches))
    assert np.array_equal(drawn, np.sort(weighted_epoch([4, 3], [1.0, 1.0], 0, 0)))
    assert all(len(b) * lengths[b].max() <= 12 or len(b) == 1 for b in batches)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("corpora:\n  - src: a.en\n    tgt: a.ja\n    wieght: 2\n", ("mix.yaml:4", "'wieght'", "nearest: weight")),
        ("corpora:\n  - src: a.en\n", ("mix.yaml:2", "needs 'tgt: FILE'")),
        ("corpora:\n  - {src: a.en, tgt: a.ja, weight: 0}\n", ("mix.yaml:2", "weight must be a number > 0")),
        ("corpora:\n  - {src: a.en, tgt: a.ja, weight: 2}\n  - {src: b.en, tgt: b.ja}\n", ("mix.yaml:3", "or none")),
        ("corpus:\n  - {src: a.en, tgt: a.ja}\n", ("mix.yaml:1", "unknown key 'corpus'")),
        ("corpora: []\n", ("at least one corpus",)),
        ("corpora: [\n", ("mix.yaml:2", "not valid YAML")),
        ("- a.en\n", ("a mapping with a 'corpora:' list",)),
    ],
)
def test_bad_corpus_files_name_the_line(tmp_path: Path, text: str, needles: tuple[str, ...]) -> None:
    path = tmp_path / "mix.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OptionError) as caught:
        CorpusMix.read(path)
    for needle in needles:
        assert needle in str(caught.value), (needle, str(caught.value))


def _corpora(tmp_path: Path, lines: int = 300) -> Path:
    """Two corpora with the same sources: the real translations, and one fixed reply for every source."""
    sources = (SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()[:lines]
    targets = (SAMPLE / "train.ja").read_text(encoding="utf-8").splitlines()[:lines]
    (tmp_path / "real.en").write_text("\n".join(sources) + "\n", encoding="utf-8")
    (tmp_path / "real.ja").write_text("\n".join(targets) + "\n", encoding="utf-8")
    (tmp_path / "reply.en").write_text("\n".join(sources) + "\n", encoding="utf-8")
    (tmp_path / "reply.ja").write_text("はい 。\n" * lines, encoding="utf-8")
    return tmp_path


TINY = ("--arch", "gru", "--attention", "none", "--emb-dim", "32", "--hidden", "32", "--dropout", "0", "--epochs",
        "6", "--lr", "5e-3", "--no-tune-decoding", "--threads", "1", "--seed", "3")  # fmt: skip


def _replies(ws: Path, name: str, dev: Path) -> float:
    """The share of dev sentences the model translates as the fixed reply."""
    found = run_cli("-w", str(ws), "translate", "-m", name, "--input", str(dev), "--tokenized", "--engine", "torch")
    assert found.returncode == 0, found.stderr
    outputs = found.stdout.splitlines()
    return sum(line.strip() == "はい 。" for line in outputs) / len(outputs)


def test_the_weights_decide_what_the_model_learns(tmp_path: Path) -> None:
    data, ws = _corpora(tmp_path), tmp_path / "ws"
    dev = tmp_path / "dev.en"
    dev.write_text("\n".join((SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()[:40]) + "\n")
    shares = {}
    for name, (real, reply) in {"mostly-real": (20, 1), "mostly-reply": (1, 20)}.items():
        mix = data / f"{name}.yaml"
        mix.write_text(f"corpora:\n  - {{src: real.en, tgt: real.ja, weight: {real}}}\n"
                       f"  - {{src: reply.en, tgt: reply.ja, weight: {reply}}}\n", encoding="utf-8")  # fmt: skip
        done = run_cli("-w", str(ws), "train-mt", "--mix", str(mix), "--name", name, *TINY)
        assert done.returncode == 0, done.stderr
        assert "tokenizer on the 2 corpora of" in " ".join((done.stdout + done.stderr).split())
        cfg = json.loads((ws / "models" / name / "config.json").read_text(encoding="utf-8"))
        assert [(p["weight"], p["pairs"]) for p in cfg["data"]["mix"]] == [(real, 300), (reply, 300)]
        assert cfg["data"]["pairs"] == 600 and cfg["run"]["options"]["mix"] == str(mix.resolve())
        shares[name] = _replies(ws, name, dev)
    assert shares["mostly-reply"] >= 0.9 and shares["mostly-real"] <= 0.1, shares


def test_mix_errors_exit_2_and_write_nothing(tmp_path: Path) -> None:
    data, ws = _corpora(tmp_path, lines=20), tmp_path / "ws"
    mix = data / "mix.yaml"
    mix.write_text("corpora:\n  - {src: real.en, tgt: real.ja}\n  - {src: reply.en, tgt: missing.ja}\n")
    assert_clean_error(run_cli("-w", str(ws), "train-mt", "--mix", str(mix), *TINY), "missing.ja")
    mix.write_text("corpora:\n  - {src: real.en, tgt: real.ja}\n")
    both = run_cli("-w", str(ws), "train-mt", "--mix", str(mix), "--src", str(data / "real.en"), *TINY)
    assert_clean_error(both, "--mix FILE", "not both")
    assert not (ws / "models").exists() or not any((ws / "models").iterdir())


def test_the_generic_train_command_takes_a_mix_too(tmp_path: Path) -> None:
    data, ws = _corpora(tmp_path, lines=20), tmp_path / "ws"
    missing = run_cli("-w", str(ws), "train", "mt", "--set", f"mix={tmp_path / 'none.yaml'}")
    assert_clean_error(missing, "--mix", "none.yaml: no such file")
    (data / "mix.yaml").write_text("corpora:\n  - {src: real.en, tgt: real.ja}\n")
    both = run_cli(
        "-w", str(ws), "train", "mt", "--set", f"mix={data / 'mix.yaml'}", "--set", f"src={data / 'real.en'}"
    )
    assert_clean_error(both, "not both")
