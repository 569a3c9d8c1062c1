"""`translate --mbr N`: the candidate the model's own samples agree with most wins, not the most probable."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from seqtool.data.search import Hypothesis, SearchOptions, Translation
from seqtool.tasks.mbr import mbr_translate
from tests.conftest import assert_clean_error, run_cli

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_e48442e"


class Canned:
    """A translator whose beam gives one output and whose samples give others (it records the searches)."""

    def __init__(self, beam: list[str], samples: list[str]) -> None:
        self.beam, self.samples, self.searches = beam, samples, []

    def translate(self, texts: list[str], *, search: SearchOptions, **kwargs: Any) -> list[list[Translation]]:
        self.searches.append(search)
        outs = self.samples[: search.nbest] if search.strategy == "sample" else self.beam[: search.nbest]
        return [[Translation(t, Hypothesis([1], -1.0)) for t in outs] for _ in texts]


def test_the_consensus_of_the_samples_beats_the_beams_best() -> None:
    tr = Canned(["the cat sat on a mat", "a cat sat"], ["the dog sat on the mat", "the dog sat on the mat",
                                                          "the dog sat on a mat", "a dog is on the mat"])  # fmt: skip
    found = mbr_translate(tr, ["x"], SearchOptions(beam=2), samples=4)
    assert found[0][0].text == "the dog sat on the mat"
    sampled = next(s for s in tr.searches if s.strategy == "sample")
    assert sampled.nbest == 4 and sampled.epsilon == pytest.approx(0.02)  # epsilon sampling by default


def test_the_chrf_utility_is_sacrebleus_sentence_chrf() -> None:
    """fastchrf computes the candidates x samples matrix; every mean must be sacrebleu's, to the last digit."""
    from sacrebleu.metrics import CHRF

    from seqtool.tasks.mbr import expected_utilities

    candidates = [["私 は 泳げ な い 。", "私は泳げない", "", "i can't swim ."], ["猫 が 好き", "犬"]]
    samples = [["私 は 泳げ な い 。", "私 は 泳 ぐ 。", "泳げない"], ["猫 が 好き で す か 。", ""]]
    chrf = CHRF()
    want = [[sum(chrf.sentence_score(c, [r]).score for r in refs) / len(refs) for c in cands]
            for cands, refs in zip(candidates, samples, strict=True)]  # fmt: skip
    assert expected_utilities("chrf", candidates, samples) == want


def test_with_one_candidate_everywhere_it_is_chosen() -> None:
    tr = Canned(["same output"], ["same output"] * 3)
    assert mbr_translate(tr, ["x", "y"], SearchOptions(), samples=3, metric="bleu")[1][0].text == "same output"


def test_mbr_translates_with_a_real_model_reproducibly(tmp_path: Path) -> None:
    ws = shutil.copytree(LEGACY / "models", tmp_path / "ws" / "models").parent
    args = ("translate", "-m", "mt-transformer", "--input", str(LEGACY / "inputs" / "translate.en"), "--mbr", "8",
            "--engine", "torch", "-w", str(ws))  # fmt: skip
    first, again = run_cli(*args), run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout and len(first.stdout.splitlines()) == 6
    assert_clean_error(run_cli(*args[:-4], "--mbr", "0", "-w", str(ws)), "--mbr must be >= 1")
    assert_clean_error(run_cli(*args, "--mbr-metric", "ter"), "--mbr-metric must be one of")


def test_evaluate_mt_scores_any_strategy(tmp_path: Path) -> None:
    """evaluate mt decodes as asked (and says how); greedy equals beam 1."""
    import json

    ws = shutil.copytree(LEGACY / "models", tmp_path / "ws" / "models").parent
    data = ("--src", str(LEGACY / "inputs" / "translate.en"), "--ref", str(LEGACY / "inputs" / "translate.en"))
    args = ("evaluate", "mt", "-m", "mt-gru", *data, "--engine", "torch", "--json", "-w", str(ws))
    results = {name: json.loads(run_cli(*args, *extra).stdout)
               for name, extra in (("greedy", ("--strategy", "greedy")), ("beam1", ("--beam", "1")),
                                   ("mbr", ("--mbr", "4")), ("mbr-bleu", ("--mbr", "4", "--mbr-metric", "bleu")))}  # fmt: skip
    assert results["greedy"]["strategy"] == "greedy" and results["mbr"]["strategy"] == "mbr-4-chrf"
    assert results["mbr-bleu"]["strategy"] == "mbr-4-bleu"  # the utility is selectable here too, as in translate
    assert results["greedy"]["bleu"] == results["beam1"]["bleu"]
