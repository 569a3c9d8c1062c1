"""BLEU that knows the target language (issue 28): sacrebleu's tokenizer is chosen from the references
(already segmented: none) and the target language (ja-mecab, zh, ko-mecab, 13a), or given explicitly;
every BLEU of seqtool (per-epoch dev BLEU, tune-decoding, evaluate mt/bleu, the server) uses the choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seqtool.metrics import (
    LEGACY_CHOICE,
    TokenizeChoice,
    bleu_only,
    choose_tokenize,
    tokenize_names,
    translation_scores,
)
from seqtool.serve.app import create_app
from seqtool.store.workspace import Workspace
from seqtool.tasks.decoding_tuning import model_tokenize, tune_decoding
from seqtool.tasks.mt import MTDataConfig, MTTask, mt_train_config, read_dev, train_mt
from seqtool.tasks.translator import load_translator
from tests.conftest import SAMPLE, corpus_lines, run_main

ENJA = SAMPLE / "enja"
SEGMENTED_JA = corpus_lines(ENJA / "dev.ja")  # KyTea-style word spaces, as small_parallel_enja
RAW_JA = [line.replace(" ", "") for line in SEGMENTED_JA]  # what users' corpora look like
TOKENIZED_EN = corpus_lines(ENJA / "dev.en")  # "i can 't swim ." style
RAW_EN = ["I can't swim.", "My father likes tennis, and so do I.", "Tom's house is big."]


def one_wrong_character(line: str, at: int = 1) -> str:
    """The line with its character ``at`` replaced (a near-perfect translation)."""
    return line[:at] + ("猫" if line[at] != "猫" else "犬") + line[at + 1 :]


def test_segmented_japanese_references_keep_none() -> None:
    for lang in (None, "ja"):
        choice = choose_tokenize(SEGMENTED_JA, lang)
        assert choice.name == "none" and "already segmented" in choice.reason and "Japanese" in choice.reason
    # The numbers stay exactly what they were with tok none.
    hyps = [one_wrong_character(line) for line in SEGMENTED_JA]
    auto = translation_scores(hyps, SEGMENTED_JA)
    assert auto.bleu == translation_scores(hyps, SEGMENTED_JA, "none").bleu == bleu_only(hyps, SEGMENTED_JA, "none")
    assert "tok:none" in auto.signatures["bleu"] and "asian:no" in auto.signatures["ter"]


def test_raw_japanese_gets_ja_mecab_and_a_bleu_that_means_something() -> None:
    detected, given = choose_tokenize(RAW_JA), choose_tokenize(RAW_JA, "ja")
    assert detected.name == given.name == "ja-mecab"
    assert "Japanese" in detected.reason and given.reason == "target language ja: ja-mecab"
    assert bleu_only(RAW_JA, RAW_JA) == pytest.approx(100.0)
    # One wrong character per sentence: tok none sees every sentence as one wrong "word" (BLEU ~0, silently);
    # ja-mecab rewards the rest of each sentence.
    near = [one_wrong_character(line) for line in RAW_JA]
    assert bleu_only(near, RAW_JA, "none") < 1.0
    scores = translation_scores(near, RAW_JA)
    assert scores.bleu > 40.0 and scores.tokenize == detected
    assert "tok:ja-mecab" in scores.signatures["bleu"] and scores.as_dict()["tokenize"] == "ja-mecab"
    assert "asian:yes" in scores.signatures["ter"] and scores.ter < 50.0  # TER splits CJK characters too
    # A better translation scores higher (the metric ranks systems again).
    worse = [one_wrong_character(line, 3) for line in near]
    assert bleu_only(worse, RAW_JA) < scores.bleu


def test_english_raw_gets_13a_and_tokenized_keeps_none() -> None:
    assert choose_tokenize(RAW_EN).name == "13a"
    assert choose_tokenize(RAW_EN, "en") == TokenizeChoice("13a", "target language en: 13a")
    tokenized = choose_tokenize(TOKENIZED_EN, "en")
    assert tokenized.name == "none" and "already tokenized" in tokenized.reason


def test_other_scripts_and_languages() -> None:
    assert choose_tokenize(["我喜欢猫。", "他是老师。"]).name == "zh"
    assert choose_tokenize(["我 喜欢 猫 。", "他 是 老师 。"]).name == "none"
    korean = choose_tokenize(["나는 고양이를 좋아한다.", "그는 선생님이다."])
    assert korean.name in ("ko-mecab", "char") and korean.name in korean.reason
    assert choose_tokenize(RAW_JA, "ja-JP").name == "ja-mecab"
    # Tatoeba's ISO 639-3 code and a locale name mean Japanese too; data prepare reads the same codes the same way.
    assert choose_tokenize(RAW_JA, "jpn").name == choose_tokenize(RAW_JA, "ja_JP").name == "ja-mecab"
    from seqtool.data.readers import normalize_lang

    assert [normalize_lang(c) for c in ("jpn", "ja_JP", "JA", "cmn", "xx-YY", None)] == [
        "ja",
        "ja",
        "ja",
        "zh",
        "xx",
        None,
    ]
    assert choose_tokenize(RAW_EN, "de").name == "13a"
    wrong = choose_tokenize(RAW_EN, "ja")  # a CJK language given, but the references are not in its script
    assert wrong.name == "13a" and "not in its script" in wrong.reason


def test_an_explicit_tokenizer_wins() -> None:
    assert choose_tokenize(RAW_JA, "ja", "char").name == "char"
    assert choose_tokenize(SEGMENTED_JA, None, "13a") == TokenizeChoice("13a", "tok 13a chosen explicitly (--tokenize)")
    assert choose_tokenize(RAW_JA, None, "auto").name == "ja-mecab"
    assert "tok:13a" in translation_scores(RAW_EN, RAW_EN, "13a").signatures["bleu"]


def test_cli_evaluate_bleu_on_raw_japanese(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ref, hyp = tmp_path / "ref.ja", tmp_path / "hyp.ja"
    ref.write_text("".join(line + "\n" for line in RAW_JA), encoding="utf-8")
    hyp.write_text("".join(one_wrong_character(line) + "\n" for line in RAW_JA), encoding="utf-8")
    code, out, err = run_main(capsys, "evaluate", "bleu", "--hyp", str(hyp), "--ref", str(ref))
    assert code == 0, err
    assert "tok:ja-mecab" in out and "BLEU tokenizer: references in Japanese script: ja-mecab" in out
    code, out, err = run_main(capsys, "evaluate", "bleu", "--hyp", str(hyp), "--ref", str(ref), "--json",
                              "--tokenize", "none")  # fmt: skip
    result = json.loads(out)
    assert code == 0 and result["tokenize"] == "none" and result["bleu"] < 1.0
    code, out, _ = run_main(
        capsys, "evaluate", "bleu", "--hyp", str(hyp), "--ref", str(ref), "--json", "--tgt-lang", "ja"
    )
    assert code == 0 and json.loads(out)["tokenize_reason"] == "target language ja: ja-mecab"


def test_an_unknown_tokenizer_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ref = tmp_path / "ref.ja"
    ref.write_text("私は泳げない。\n", encoding="utf-8")
    code, out, err = run_main(capsys, "evaluate", "bleu", "--hyp", str(ref), "--ref", str(ref), "--tokenize", "mecab")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "--tokenize must be auto or one of" in err and "'mecab'" in err
    assert all(name in err for name in ("none", "13a", "ja-mecab", "zh", "char"))
    assert set(tokenize_names()) >= {"none", "13a", "ja-mecab", "zh", "ko-mecab", "char"}


def test_the_server_chooses_the_same_way(tmp_path: Path) -> None:
    with TestClient(create_app(Workspace(tmp_path / "ws"), device="cpu", lazy=True)) as client:
        near = [one_wrong_character(line) for line in RAW_JA[:20]]
        body = client.post("/api/evaluate/bleu", json={"hypotheses": near, "references": RAW_JA[:20]}).json()
        assert body == translation_scores(near, RAW_JA[:20]).as_dict() and body["tokenize"] == "ja-mecab"
        assert "tok:ja-mecab" in body["signatures"]["bleu"]
        body = client.post("/api/evaluate/bleu", json={"hypotheses": RAW_EN, "references": RAW_EN,
                                                       "tgt_lang": "en"}).json()  # fmt: skip
        assert body["tokenize"] == "13a" and body["tokenize_reason"] == "target language en: 13a"
        bad = client.post("/api/evaluate/bleu", json={"hypotheses": ["a"], "references": ["a"], "tokenize": "x"})
        assert bad.status_code == 422 and "tokenize must be auto or one of" in bad.json()["error"]


@pytest.fixture(scope="module")
def raw_dev_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny en->ja translator whose dev references are raw Japanese (1 epoch: only the choice matters)."""
    root = tmp_path_factory.mktemp("raw-dev")
    raw_dev = root / "dev.raw.ja"
    raw_dev.write_text("".join(line + "\n" for line in RAW_JA), encoding="utf-8")
    ws = Workspace(root / "ws")
    train_mt(
        ws, "raw-dev", ENJA / "train.en", ENJA / "train.ja", ENJA / "dev.en", raw_dev, "gru",
        {"emb_dim": 32, "hidden": 32, "dropout": 0.0}, mt_train_config("gru", epochs=1, batch_tokens=2000),
        MTDataConfig(src_vocab=200, tgt_vocab=200),
    )  # fmt: skip
    return root / "ws", raw_dev


def test_training_records_the_choice_and_a_resumed_run_keeps_it(raw_dev_model: tuple[Path, Path]) -> None:
    ws_path, raw_dev = raw_dev_model
    md, cfg = Workspace(ws_path).find("raw-dev", "mt")
    assert cfg["bleu_tokenize"] == {"name": "ja-mecab", "reason": "target language ja: ja-mecab"}
    task = MTTask((ENJA / "train.en", ENJA / "train.ja", ENJA / "dev.en", raw_dev), "gru", {}, MTDataConfig())
    task.restore(md, cfg)
    assert task.bleu_tokenize == TokenizeChoice("ja-mecab", "target language ja: ja-mecab")
    task.restore(md, {k: v for k, v in cfg.items() if k != "bleu_tokenize"})  # a run from before the choice
    assert task.bleu_tokenize == LEGACY_CHOICE and LEGACY_CHOICE.name == "none"


def test_tuning_and_evaluate_mt_use_the_recorded_choice(
    raw_dev_model: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    ws_path, raw_dev = raw_dev_model
    tr = load_translator(Workspace(ws_path), "raw-dev", "cpu", engine="torch")
    sources, refs = read_dev(ENJA / "dev.en", raw_dev)
    assert model_tokenize(tr.config, refs).name == "ja-mecab"
    assert model_tokenize(tr.config, refs, "char").name == "char"
    section = tune_decoding(tr, sources[:20], refs[:20], beams=(1,), alphas=(1.0,))
    assert section["tokenize"] == "ja-mecab" and section["tokenize_reason"] == "target language ja: ja-mecab"
    code, out, err = run_main(capsys, "-w", str(ws_path), "evaluate", "mt", "--model", "raw-dev", "--beam", "1",
                              "--engine", "torch", "--json")  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["tokenize"] == "ja-mecab" and "tok:ja-mecab" in result["signatures"]["bleu"]
