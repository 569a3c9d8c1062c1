"""`seqtool translate` as users call it: `--nbest`, `--show-attention`, a Japanese source typed without
word spaces (ja->en), and the BPE tokenizers a translator can be trained with."""

from __future__ import annotations

import json

import pytest

from seqtool.data.tokenizers import load_tokenizer, train_tokenizer
from seqtool.tasks.mt import load_translator
from seqtool.viz.curves import png_size
from tests.conftest import SAMPLE, corpus_lines, run_cli, train_tiny_mt

ATTENTION = {"attention": "bahdanau", "bidirectional": True}


@pytest.fixture(scope="module")
def enja(tmp_path_factory):
    """A small en->ja GRU with attention that has learnt the sample pairs."""
    ws, _ = train_tiny_mt(tmp_path_factory.mktemp("enja") / "ws", "gru", epochs=8, **ATTENTION)
    return ws


def test_nbest_prints_n_distinct_translations_best_first(enja):
    w, text = str(enja.root), "my father likes cats ."
    one = run_cli("translate", text, "-w", w, "--beam", "4", "--engine", "torch")
    three = run_cli("translate", text, "-w", w, "--beam", "4", "--nbest", "3", "--engine", "torch")
    assert one.returncode == 0 and three.returncode == 0, three.stderr
    (line,) = three.stdout.splitlines()
    alternatives = line.split("\t")
    # (two segmentations into pieces may print alike: distinct hypotheses are checked in test_mt)
    assert len(alternatives) == 3 and "" not in alternatives, alternatives
    assert alternatives[0] == one.stdout.strip() == "私の父は猫が好きです。"
    js = run_cli("translate", text, "-w", w, "--beam", "4", "--nbest", "3", "--json", "--engine", "torch")
    (result,) = json.loads(js.stdout)["results"]
    assert [t["text"] for t in result["translations"]] == alternatives
    scores = [t["normalized_score"] for t in result["translations"]]
    assert scores == sorted(scores, reverse=True) and all(s < 0 for s in scores)
    bad = run_cli("translate", text, "-w", w, "--beam", "2", "--nbest", "3")
    assert bad.returncode == 2 and "--nbest" in bad.stderr


def test_show_attention_writes_one_heatmap_per_sentence(enja, tmp_path):
    w = str(enja.root)
    sources = tmp_path / "in.en"
    sources.write_text("i can 't swim .\nmy father likes cats .\n", encoding="utf-8")
    out = run_cli("translate", "-i", str(sources), "--show-attention", "-w", w, "--engine", "torch")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-2:] == ["私は泳げない。", "私の父は猫が好きです。"]
    figures = sorted((enja.root / "figures").glob("attention-mt-gru-*.png"))
    assert [f.name.rsplit("-", 1)[1] for f in figures] == ["1.png", "2.png"]
    for figure in figures:
        assert str(figure) in out.stdout + out.stderr  # the command says where each one is
        width, height = png_size(figure)
        assert width > 200 and height > 200


def test_attention_rows_are_distributions_over_the_source_pieces(enja):
    tr = load_translator(enja, None, "cpu")
    ((best,),) = tr.translate(["my father likes cats ."], beam=1)
    hyp = best.hypothesis
    source_pieces = tr.src_tok.pieces("my father likes cats .")
    assert len(hyp.attention) == len(hyp.ids) + 1  # one row per output piece and </s>
    assert all(len(row) == len(source_pieces) for row in hyp.attention)
    assert all(abs(sum(row) - 1) < 1e-4 for row in hyp.attention)


def test_ja_to_en_reads_japanese_with_or_without_word_spaces(tmp_path):
    """The sample corpus's Japanese is segmented; users type it unsegmented. A ja source tokenizer
    drops the spaces, so both spellings are the same input and get the same translation."""
    ws, result = train_tiny_mt(tmp_path, "gru", epochs=8, src_lang="ja", tgt_lang="en", name="jaen", **ATTENTION)
    assert result.best["value"] > 30  # it learnt the direction
    segmented = corpus_lines(SAMPLE / "enja/train.ja")[:40]
    english = corpus_lines(SAMPLE / "enja/train.en")[:40]
    raw = [line.replace(" ", "") for line in segmented]
    tr = load_translator(ws, "jaen", "cpu")
    assert tr.src_tok.encode(raw[0]) == tr.src_tok.encode(segmented[0])
    as_typed, as_corpus = (tr.translate(texts, tokenized=True, beam=3) for texts in (raw, segmented))
    assert as_typed == as_corpus
    assert sum(a[0].text == e for a, e in zip(as_typed, english, strict=True)) >= 20  # mostly the training pair
    out = run_cli("translate", "私は泳げない。", "-w", str(ws.root), "-m", "jaen", "--engine", "torch")
    assert out.returncode == 0 and out.stdout.strip() == "i can 't swim .", out.stdout


@pytest.mark.parametrize(("lang", "strip"), [("en", False), ("ja", False), ("ja", True)])
def test_bpe_tokenizer_round_trip_and_reload(tmp_path, lang, strip):
    train = corpus_lines(SAMPLE / f"enja/train.{lang}")
    tok = train_tokenizer(train, "bpe", vocab_size=400, lang=lang, strip_spaces=strip, threads=1)
    assert tok.kind == "bpe" and 100 < tok.vocab_size <= 400
    assert [tok.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    dev = corpus_lines(SAMPLE / f"enja/dev.{lang}")
    for line in dev:
        ids = tok.encode(line)
        assert ids and all(i > 3 for i in ids)
        assert tok.decode(ids) == tok.prepare(line)  # lossless on the prepared text
    # Subwords: merges made multi-character pieces; in English, rarer words are split, and a word never
    # seen still encodes without <unk> (from its letters).
    assert any(len(tok.id_to_piece(i).lstrip("\u2581")) > 1 for line in dev for i in tok.encode(line))
    if lang == "en":
        assert any(len(tok.encode(w)) > 1 for line in dev for w in line.split())
        assert "dogcats" not in " ".join(train).split() and 1 not in tok.encode("dogcats")
    entry = tok.save(tmp_path, "bpe")
    again = load_tokenizer(tmp_path, entry)
    assert again.kind == "bpe" and [again.encode(x) for x in dev] == [tok.encode(x) for x in dev]


def test_train_mt_with_bpe_tokenizers(tmp_path):
    w = str(tmp_path / "ws")
    out = run_cli("train-mt", "-w", w, "--arch", "gru", "--emb-dim", "32", "--hidden", "32", "--epochs", "1",
                  "--tokenizer", "bpe", "--src-vocab", "300", "--tgt-vocab", "300", "--name", "bpe",
                  "--threads", "1")  # fmt: skip
    assert out.returncode == 0, out.stderr
    tr = load_translator(load_ws(w), "bpe", "cpu")
    assert (tr.src_tok.kind, tr.tgt_tok.kind) == ("bpe", "bpe")
    assert tr.md.config()["tokenizers"]["src"]["file"] == "src.model"
    ((translation,),) = tr.translate(["i can 't swim ."], beam=2)
    text = translation.text
    assert text and all(tr.tgt_tok.piece_to_id(p) != 1 for p in tr.tgt_tok.pieces(text))


def load_ws(path: str):
    from seqtool.store.workspace import Workspace

    return Workspace(path)
