"""A raw Japanese side is split into words by MeCab before sentencepiece (train-mt --segment, issue 28).

On raw Japanese, sentencepiece fills its vocabulary with word groups (彼は, 人生を); split into MeCab's
words first, the same recipe scored as well as on a corpus shipped segmented (docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

from seqtool.data.text import join_japanese, mecab_words
from seqtool.data.tokenizers import SentencePieceTokenizer, load_tokenizer
from tests.conftest import SAMPLE, run_main

SEGMENTED = (SAMPLE / "enja" / "train.ja").read_text(encoding="utf-8").splitlines()


def test_mecab_pieces_stay_inside_words_and_raw_and_segmented_text_agree(tmp_path: Path) -> None:
    raw = [join_japanese(line) for line in SEGMENTED]
    tok = SentencePieceTokenizer.train(raw, vocab_size=400, segment="mecab", threads=1)
    for raw_line, segmented_line in zip(raw[:200], SEGMENTED[:200], strict=True):
        # the corpus's own (KyTea) spacing and no spacing at all give the same ids: MeCab decides
        assert tok.encode(raw_line) == tok.encode(segmented_line)
        # the pieces, read back, are exactly MeCab's words: none joins two words
        assert "".join(tok.pieces(raw_line)).replace("\u2581", " ").strip() == mecab_words(raw_line)
        assert tok.decode(tok.encode(raw_line)) == mecab_words(raw_line)
    saved = tok.save(tmp_path, "tgt")
    assert saved["segment"] == "mecab"
    again = load_tokenizer(tmp_path, json.loads(json.dumps(saved)))
    assert [again.encode(line) for line in raw[:50]] == [tok.encode(line) for line in raw[:50]]
    # a tokenizer without segmentation keeps its config.json entry as before
    assert "segment" not in SentencePieceTokenizer.train(raw, vocab_size=400, threads=1).save(tmp_path, "plain")


def _corpus(folder: Path, raw_target: bool) -> list[str]:
    folder.mkdir()
    paths = []
    for part, lines in (("train", 400), ("dev", 20)):
        for lang in ("en", "ja"):
            text = (SAMPLE / "enja" / f"{part}.{lang}").read_text(encoding="utf-8").splitlines()[:lines]
            if lang == "ja" and raw_target:
                text = [join_japanese(line) for line in text]
            path = folder / f"{part}.{lang}"
            path.write_text("\n".join(text) + "\n", encoding="utf-8")
            paths.append(str(path))
    src, tgt, dev_src, dev_tgt = paths
    return ["--src", src, "--tgt", tgt, "--dev-src", dev_src, "--dev-tgt", dev_tgt]


TINY = ["--layers", "1", "--emb-dim", "32", "--heads", "2", "--ff-dim", "64", "--src-vocab", "300",
        "--tgt-vocab", "300", "--epochs", "1", "--device", "cpu", "--threads", "1", "--no-tune-decoding"]  # fmt: skip


def test_auto_splits_a_raw_japanese_target_and_leaves_a_segmented_one(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for name, raw in (("raw", True), ("segmented", False)):
        code, _, err = run_main(capsys, "train-mt", *_corpus(tmp_path / name, raw), *TINY, "--name", name,
                                "-w", str(ws))  # fmt: skip
        assert code == 0, err
        tokenizers = json.loads((ws / "models" / name / "config.json").read_text(encoding="utf-8"))["tokenizers"]
        assert "segment" not in tokenizers["src"]  # English is never split
        assert tokenizers["tgt"].get("segment") == ("mecab" if raw else None), tokenizers
    # --segment none keeps the raw target as it is
    code, _, err = run_main(capsys, "train-mt", *_corpus(tmp_path / "kept", True), *TINY, "--segment", "none",
                            "--name", "kept", "-w", str(ws))  # fmt: skip
    assert code == 0, err
    tokenizers = json.loads((ws / "models" / "kept" / "config.json").read_text(encoding="utf-8"))["tokenizers"]
    assert "segment" not in tokenizers["tgt"]


def test_a_raw_japanese_source_is_split_only_when_asked(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    flags = _corpus(tmp_path / "c", True)  # --src train.en --tgt train.ja --dev-src dev.en --dev-tgt dev.ja
    swapped = [flags[0], flags[3], flags[2], flags[1], flags[4], flags[7], flags[6], flags[5]]  # ja -> en
    for name, extra in (("auto", []), ("asked", ["--segment", "mecab"])):
        code, _, err = run_main(capsys, "train-mt", *swapped, "--src-lang", "ja", "--tgt-lang", "en", *TINY, *extra,
                                "--name", name, "-w", str(ws))  # fmt: skip
        assert code == 0, err
        tokenizers = json.loads((ws / "models" / name / "config.json").read_text(encoding="utf-8"))["tokenizers"]
        assert tokenizers["src"].get("segment") == ("mecab" if extra else None), tokenizers
        assert "segment" not in tokenizers["tgt"]  # English is never split


def test_every_thread_gets_its_own_tagger_with_the_same_words() -> None:
    from concurrent.futures import ThreadPoolExecutor

    lines = [join_japanese(line) for line in SEGMENTED[:300]]
    here = [mecab_words(line) for line in lines]
    with ThreadPoolExecutor(4) as pool:  # the server encodes from several threads
        assert list(pool.map(mecab_words, lines)) == here
