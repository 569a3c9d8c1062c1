"""`seqtool score` (forced decoding) and translate's confidence, on the legacy fixture's tiny models:
scores agree with what the search reported and across engines, an LM's sentence scores add up to its
perplexity, and bad input is one line."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, run_cli

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_e48442e"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = shutil.copytree(LEGACY / "models", tmp_path / "ws" / "models").parent
    lines = (LEGACY / "inputs" / "translate.en").read_text(encoding="utf-8").splitlines()
    (tmp_path / "src.en").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def _translate(ws: Path, model: str, *extra: str) -> dict:
    done = run_cli("translate", "-m", model, "--engine", "torch", "--tokenized", "--json", "--input",
                   str(ws.parent / "src.en"), "-w", str(ws), *extra)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("model", ["mt-gru", "mt-transformer"])
def test_score_gives_back_the_beams_own_scores(ws: Path, model: str) -> None:
    found = _translate(ws, model, "--beam", "5")["results"]
    hyp = ws.parent / "hyp.ja"
    hyp.write_text("".join(r["translations"][0]["text"] + "\n" for r in found), encoding="utf-8")
    done = run_cli("score", "-m", model, "--src", str(ws.parent / "src.en"), "--hyp", str(hyp), "--engine", "torch",
                   "--json", "-w", str(ws))  # fmt: skip
    assert done.returncode == 0, done.stderr
    scored = json.loads(done.stdout)["results"]
    for r, s in zip(found, scored, strict=True):
        assert s["score"] == pytest.approx(r["translations"][0]["score"], abs=1e-4)
        assert s["mean_logprob"] == pytest.approx(s["score"] / s["length"])
    tsv = run_cli("score", "-m", model, "--engine", "torch", "-w", str(ws),
                  input="".join(f"{r['source']}\t{r['translations'][0]['text']}\n" for r in found))  # fmt: skip
    totals = [float(line.split("\t")[0]) for line in tsv.stdout.splitlines()]
    assert totals == pytest.approx([s["score"] for s in scored], abs=1e-5)


def test_ctranslate2_scores_as_torch_does(ws: Path) -> None:
    assert run_cli("export", "mt-transformer", "--quantize", "float32", "-w", str(ws)).returncode == 0
    found = _translate(ws, "mt-transformer")["results"]
    hyp = ws.parent / "hyp.ja"
    hyp.write_text("".join(r["translations"][0]["text"] + "\n" for r in found), encoding="utf-8")
    args = ("score", "-m", "mt-transformer", "--src", str(ws.parent / "src.en"), "--hyp", str(hyp), "--json",
            "--tokens", "-w", str(ws))  # fmt: skip
    engines = {e: json.loads(run_cli(*args, "--engine", e).stdout) for e in ("torch", "ctranslate2")}
    assert engines["ctranslate2"]["engine"] == "ctranslate2"
    for a, b in zip(engines["torch"]["results"], engines["ctranslate2"]["results"], strict=True):
        assert b["score"] == pytest.approx(a["score"], abs=1e-3)
        assert [t["piece"] for t in a["tokens"]] == [t["piece"] for t in b["tokens"]]


def test_an_lms_sentence_scores_add_up_to_its_perplexity(ws: Path) -> None:
    data = LEGACY / "inputs" / "eval.en"
    scored = json.loads(run_cli("score", "-m", "lm-lstm", "--text", str(data), "--json", "-w", str(ws)).stdout)
    evaluated = json.loads(run_cli("evaluate", "lm", "-m", "lm-lstm", "--data", str(data), "--json", "-w",
                                   str(ws)).stdout)  # fmt: skip
    total = sum(r["score"] for r in scored["results"])
    words = sum(r["score"] / -math.log(r["perplexity"]) for r in scored["results"])
    assert math.exp(-total / words) == pytest.approx(evaluated["perplexity"], rel=1e-5)


def test_confidence_is_the_outputs_own_probability(ws: Path) -> None:
    rows = _translate(ws, "mt-gru", "--confidence", "--min-confidence", "0.6")["results"]
    for row in rows:
        t = row["translations"][0]
        assert math.prod(tok["prob"] for tok in t["tokens"]) == pytest.approx(math.exp(t["score"]), rel=1e-4)
        assert t["mean_logprob"] == pytest.approx(t["score"] / len(t["tokens"]), abs=1e-6)
        assert t["doubtful"] == (math.exp(t["mean_logprob"]) < 0.6)
    plain = run_cli("translate", "-m", "mt-gru", "--engine", "torch", "--min-confidence", "0.99", "--input",
                    str(ws.parent / "src.en"), "-w", str(ws))  # fmt: skip
    assert plain.returncode == 0 and len(plain.stdout.splitlines()) == len(rows)  # flagged, not dropped
    assert "below --min-confidence 0.99" in plain.stderr


def test_bad_input_is_one_line(ws: Path, tmp_path: Path) -> None:
    src = ws.parent / "src.en"
    short, empty = tmp_path / "short.ja", tmp_path / "empty.ja"
    short.write_text("私 は\n", encoding="utf-8")
    empty.write_text("私 は\n\n" + "私\n" * 4, encoding="utf-8")
    w = ("-w", str(ws))
    assert_clean_error(run_cli("score", "-m", "mt-gru", "--src", str(src), "--hyp", str(short), *w),
                       "parallel files differ in length", "short.ja has 1;")  # fmt: skip
    assert_clean_error(run_cli("score", "-m", "mt-gru", "--src", str(src), "--hyp", str(empty), *w), "empty.ja:2")
    assert_clean_error(run_cli("score", "-m", "lm-lstm", "--src", str(src), "--hyp", str(short), *w),
                       "is a language model")  # fmt: skip
    assert_clean_error(run_cli("score", "-m", "mt-gru", "--text", str(src), *w), "is a translator")
    assert_clean_error(run_cli("score", "-m", "mt-gru", "--src", str(src), *w), "both --src and --hyp")
    assert_clean_error(run_cli("translate", "hi", "-m", "mt-gru", "--min-confidence", "2", *w), "--min-confidence")


# ----- ensembles (translate/score/evaluate --model a,b)


def _copy_model(ws: Path, name: str, new: str) -> None:
    shutil.copytree(ws / "models" / name, ws / "models" / new)
    cfg = json.loads((ws / "models" / new / "config.json").read_text())
    (ws / "models" / new / "config.json").write_text(json.dumps({**cfg, "name": new}))


def test_an_ensemble_of_a_model_with_itself_is_that_model(ws: Path) -> None:
    _copy_model(ws, "mt-transformer", "twin")
    alone = _translate(ws, "mt-transformer", "--beam", "4")["results"]
    ensemble = _translate(ws, "mt-transformer,twin", "--beam", "4")
    assert ensemble["model"] == "mt-transformer,twin"  # the output names the ensemble, not its first member
    both = ensemble["results"]
    for a, b in zip(alone, both, strict=True):
        assert a["translations"][0]["text"] == b["translations"][0]["text"]
        assert b["translations"][0]["score"] == pytest.approx(a["translations"][0]["score"], abs=1e-4)


def test_an_ensemble_scores_each_token_by_the_members_mean_log_probability(ws: Path) -> None:
    """Averaged log-probabilities, renormalized: never below the members' mean for the same tokens."""
    found = _translate(ws, "mt-gru")["results"]
    hyp = ws.parent / "hyp.ja"
    hyp.write_text("".join(r["translations"][0]["text"] + "\n" for r in found), encoding="utf-8")

    def scores(model: str) -> list[float]:
        done = run_cli("score", "-m", model, "--src", str(ws.parent / "src.en"), "--hyp", str(hyp), "--json",
                       "--engine", "torch", "-w", str(ws))  # fmt: skip
        assert done.returncode == 0, done.stderr
        return [r["score"] for r in json.loads(done.stdout)["results"]]

    gru, transformer, ensemble = scores("mt-gru"), scores("mt-transformer"), scores("mt-gru,mt-transformer")
    for g, t, e in zip(gru, transformer, ensemble, strict=True):
        assert e >= (g + t) / 2 - 1e-4 and e not in (g, t)


def test_an_ensemble_needs_one_vocabulary_and_torch(ws: Path, tmp_path: Path) -> None:
    from tests.conftest import make_mt_folder

    make_mt_folder(ws / "models" / "other", name="other")
    w = ("-w", str(ws))
    assert_clean_error(run_cli("translate", "hi .", "-m", "mt-gru,other", *w), "another source vocabulary")
    assert_clean_error(run_cli("translate", "hi .", "-m", "mt-gru,mt-gru", *w), "two or more different")
    assert_clean_error(run_cli("translate", "hi .", "-m", "mt-gru,mt-transformer", "--engine", "ctranslate2", *w),
                       "torch engine")  # fmt: skip


# ----- corpus filtering (score --reverse --keep --out)


def test_filtering_keeps_the_best_fraction_in_input_order(ws: Path, tmp_path: Path) -> None:
    """Mechanics on the fixture's models (a real pair of directions is benchmarks/filter_bench.sh's job)."""
    src = ws.parent / "src.en"
    found = _translate(ws, "mt-gru")["results"]
    hyp = tmp_path / "hyp.ja"
    hyp.write_text("".join(r["translations"][0]["text"] + "\n" for r in found), encoding="utf-8")
    w = ("-w", str(ws), "--engine", "torch")
    scores = json.loads(run_cli("score", "-m", "mt-gru", "--reverse", "mt-transformer", "--src", str(src),
                                "--hyp", str(hyp), "--json", *w).stdout)["scores"]  # fmt: skip
    assert len(scores) == 6 and all(s >= 0 for s in scores)  # |H_f - H_r| + mean cross-entropy
    out = tmp_path / "kept"
    done = run_cli("score", "-m", "mt-gru", "--reverse", "mt-transformer", "--src", str(src), "--hyp", str(hyp),
                   "--keep", "0.5", "--out", str(out), "--json", *w)  # fmt: skip
    assert done.returncode == 0, done.stderr
    kept = json.loads(done.stdout)["kept_lines"]
    best = sorted(range(6), key=lambda i: scores[i])[:3]
    assert kept == sorted(i + 1 for i in best)
    sources = src.read_text(encoding="utf-8").splitlines()
    assert (tmp_path / "kept.src").read_text(encoding="utf-8").splitlines() == [sources[i - 1] for i in kept]
    assert len((tmp_path / "kept.tgt").read_text(encoding="utf-8").splitlines()) == 3
    assert_clean_error(run_cli("score", "-m", "mt-gru", "--reverse", "lm-lstm", "--src", str(src), "--hyp", str(hyp),
                               *w), "--reverse lm-lstm")  # fmt: skip
    assert_clean_error(run_cli("score", "-m", "mt-gru", "--reverse", "mt-transformer", "--src", str(src), "--hyp",
                               str(hyp), "--keep", "0.5", *w), "--keep FRACTION and --out PREFIX together")  # fmt: skip
    assert not (tmp_path / "kept2.src").exists()
