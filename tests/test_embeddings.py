"""Word embeddings: training on generated text learns the built-in analogy; queries, evaluation,
export round-trips and every bad input of the issue."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from seqtool.embeddings import (
    Embeddings,
    EmbeddingSettings,
    OutOfVocabularyError,
    analogy,
    load_embeddings,
    neighbours,
    save_vectors,
    train_embeddings,
)
from seqtool.embeddings.analogy import ExpressionError
from seqtool.embeddings.evaluation import evaluate_analogies, evaluate_similarity
from seqtool.errors import DataError, ModelNotFoundError, OptionError, WorkspaceError
from seqtool.store.workspace import Workspace
from tests.conftest import SAMPLE, assert_clean_error, run_cli

# One worker and a fixed seed make gensim deterministic; 3,000 generated sentences x 10 epochs take
# about a second.
FAST = EmbeddingSettings(epochs=10, workers=1)


def _generated_sentences(n: int) -> list[str]:
    spec = importlib.util.spec_from_file_location("make_ja_text", SAMPLE / "make_ja_text.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sentences(n)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A workspace with embeddings trained on 3,000 sentences of the generated Japanese text."""
    root = tmp_path_factory.mktemp("emb")
    corpus = root / "text.txt"
    corpus.write_text("".join(s + "\n" for s in _generated_sentences(3000)), encoding="utf-8")
    ws = root / "ws"
    train_embeddings(corpus, ws, "tiny", FAST)
    return ws, corpus


@pytest.fixture(scope="module")
def emb(trained: tuple[Path, Path]) -> Embeddings:
    return load_embeddings(trained[0])


def test_training_writes_a_complete_model_folder(trained: tuple[Path, Path]) -> None:
    ws, corpus = trained
    md, cfg = Workspace(ws).find(None, "embeddings")
    assert md.name == "tiny" and Workspace(ws).defaults()["embeddings"] == "tiny"
    assert cfg["kind"] == "embeddings" and cfg["arch"] == "cbow" and cfg["status"] == "done"
    assert cfg["data"]["train"] == str(corpus) and cfg["language"] == "ja"
    assert cfg["corpus"]["sentences"] == 3000 and cfg["corpus"]["reader"] == "corpus_file"
    assert cfg["parameters"] == cfg["corpus"]["vocab_size"] * cfg["settings"]["dim"]
    rows = md.metrics()
    assert [r["epoch"] for r in rows] == list(range(1, FAST.epochs + 1))
    assert all(r["train_loss"] >= 0 and r["tokens_per_s"] > 0 for r in rows)
    assert (md.path / "vectors.bin").exists() and (md.path / "counts.json").exists()


def test_the_built_in_analogy_resolves(emb: Embeddings) -> None:
    for text in ("父 - 男 + 女", "父－男＋女", "父-男+女"):
        expr, results = analogy(emb, text, top=5)
        assert results[0].word == "母", (text, results)
        assert not set(expr.words) & {r.word for r in results}  # query words are never answers
    _, mul = analogy(emb, "父 - 男 + 女", method="mul")
    assert mul[0].word == "母"
    _, capital = analogy(emb, "東京 - 日本 + フランス", top=3)
    assert "パリ" in [r.word for r in capital]  # fewer country sentences: top 3, not top 1


def test_neighbours_of_family_are_group_words(emb: Embeddings) -> None:
    top = [n.word for n in neighbours(emb, "家族", top=5)]
    assert len(set(top) & {"両親", "親戚", "兄弟", "友達", "仲間"}) >= 4, top
    scores = [n.score for n in neighbours(emb, "家族", top=5)]
    assert scores == sorted(scores, reverse=True) and "家族" not in top


def test_restrict_limits_answers_to_frequent_words(emb: Embeddings) -> None:
    _, results = analogy(emb, "父 - 男 + 女", top=50, restrict=30)
    assert all(emb.kv.key_to_index[r.word] < 30 for r in results)


def test_out_of_vocabulary_names_the_word_and_suggests_spellings(emb: Embeddings) -> None:
    with pytest.raises(OutOfVocabularyError, match="'祖父母'.*nearest spellings: .*祖父"):
        neighbours(emb, "祖父母")
    with pytest.raises(OutOfVocabularyError, match="'王'"):
        analogy(emb, "王 - 男 + 女")
    with pytest.raises(OutOfVocabularyError, match="'王'.*'女王': nearest spellings: 女"):  # every missing word
        analogy(emb, "王 - 男 + 女王")
    with pytest.raises(ExpressionError, match="dangling"):
        analogy(emb, "父 - ")


def test_export_round_trips_through_gensim(emb: Embeddings, tmp_path: Path) -> None:
    from gensim.models import KeyedVectors

    for fmt, binary in (("word2vec-text", False), ("word2vec-bin", True)):
        path = save_vectors(emb.kv, tmp_path / f"vectors.{fmt}", fmt)
        loaded = KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert loaded.index_to_key == emb.kv.index_to_key
        np.testing.assert_allclose(loaded.vectors, emb.kv.vectors, rtol=1e-5, atol=1e-6)
    with pytest.raises(OptionError, match="export format"):
        save_vectors(emb.kv, tmp_path / "x", "glove")


def test_evaluate_analogies_counts_sections_and_oov(emb: Embeddings, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text(
        ": family\n男 女 父 母\n男 女 兄 姉\n父 母 男 女\n男 女 王 女王\n: capitals\n日本 東京 フランス パリ\n",
        encoding="utf-8",
    )
    result = evaluate_analogies(emb, questions)
    assert set(result) >= {"accuracy", "correct", "total", "oov", "sections"}
    assert result["total"] == 4 and result["oov"] == 1 and result["correct"] >= 3
    family = result["sections"][0]
    assert family["name"] == "family" and family["total"] == 3 and family["oov"] == 1
    assert 0.0 <= result["accuracy"] <= result["top5_accuracy"] <= 1.0


def test_evaluate_similarity_spearman(emb: Embeddings, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# word1 word2 score\n家族\t両親\t9\n父\t母\t8\n家族\tパリ\t1\n父\t東京\t0.5\n王\t女王\t9\n")
    result = evaluate_similarity(emb, pairs)
    assert result["pairs"] == 4 and result["oov"] == 1 and result["oov_ratio"] == pytest.approx(0.2)
    assert result["spearman"] > 0.5


def test_english_models_default_to_gensims_test_sets(tmp_path: Path) -> None:
    """Without a file, an English model is evaluated on gensim's questions-words.txt and wordsim353
    (capitalised words fall back to the lowercase corpus convention)."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["athens", "greece", "baghdad", "iraq", "tiger", "cat"], np.eye(6, 2, dtype=np.float32) + 0.1)
    fake = Embeddings("en", {"language": "en"}, kv, Workspace(tmp_path).model_dir("en"))
    result = evaluate_analogies(fake)
    assert result["questions"].endswith("questions-words.txt") and result["total"] >= 2 and result["oov"] > 19000
    assert evaluate_similarity(fake)["pairs"] == 2  # tiger-cat and tiger-tiger
    with pytest.raises(OptionError, match="--questions FILE"):
        evaluate_analogies(Embeddings("ja", {"language": "ja"}, kv, fake.model_dir))


def test_crlf_and_bom_corpora_are_read_through_the_iterator(tmp_path: Path) -> None:
    corpus = tmp_path / "crlf.txt"
    corpus.write_bytes(b"\xef\xbb\xbf" + "".join(s + "\r\n" for s in _generated_sentences(300)).encode("utf-8"))
    train_embeddings(corpus, tmp_path / "ws", "crlf", EmbeddingSettings(epochs=1, workers=1))
    emb = load_embeddings(tmp_path / "ws", "crlf")
    assert emb.config["corpus"]["reader"] == "iterator"
    assert not any("\r" in w or "\ufeff" in w for w in emb.kv.index_to_key)


def test_bad_corpora_leave_the_workspace_untouched(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xe7\x88\xb6 \xe3\x81\xaf\n\xff\xfe broken\n")
    with pytest.raises(DataError, match=r"bad.txt:2: invalid UTF-8"):
        train_embeddings(bad, ws, "bad", FAST)
    rare = tmp_path / "rare.txt"
    rare.write_text("a b c\n", encoding="utf-8")
    with pytest.raises(DataError, match="--min-count"):
        train_embeddings(rare, ws, "rare", FAST)
    with pytest.raises(OptionError, match="--method"):
        train_embeddings(rare, ws, "rare", EmbeddingSettings(method="glove"))
    assert not ws.exists()


def test_cli_queries_and_json_shapes(trained: tuple[Path, Path], tmp_path: Path) -> None:
    ws = str(trained[0])
    result = run_cli("analogy", "父", "-男", "+女", "--top", "3", "--json", "-w", ws)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["query"] == "父 - 男 + 女" and data["results"][0]["word"] == "母"
    assert set(data["results"][0]) == {"word", "score"} and len(data["results"]) == 3
    result = run_cli("similar", "家族", "--top", "2", "--json", "-w", ws)
    assert json.loads(result.stdout)["query"] == "家族" and len(json.loads(result.stdout)["results"]) == 2
    png = tmp_path / "emb.png"
    result = run_cli("plot", "embeddings", "父", "母", "男", "女", "--neighbours", "2", "-o", str(png), "-w", ws)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG")


def test_cli_bad_input_is_one_clean_line(trained: tuple[Path, Path], tmp_path: Path) -> None:
    ws = str(trained[0])
    assert_clean_error(run_cli("similar", "家俗", "-w", ws), "'家俗' is not in the vocabulary", "家族")
    assert_clean_error(run_cli("analogy", "父", "-", "-w", ws), "dangling operator")
    assert_clean_error(run_cli("analogy", "", "-w", ws), "empty expression")
    assert_clean_error(run_cli("analogy", "-男", "-女", "-w", ws), "only negative terms")
    questions = tmp_path / "q.txt"
    questions.write_text(": s\n男 女 父 母\n男 女 父\n", encoding="utf-8")
    assert_clean_error(run_cli("evaluate", "analogy", "--questions", str(questions), "-w", ws), f"{questions}:3:")
    lm = Path(ws) / "models" / "an-lm"
    lm.mkdir(exist_ok=True)
    (lm / "config.json").write_text(json.dumps({"name": "an-lm", "kind": "lm", "status": "done"}))
    assert_clean_error(run_cli("similar", "家族", "--model", "an-lm", "-w", ws), "is a lm model")


def test_wrong_kind_model_in_library(trained: tuple[Path, Path]) -> None:
    with pytest.raises(ModelNotFoundError):
        load_embeddings(trained[0], "no-such-model")
    lm = Path(trained[0]) / "models" / "an-lm"
    lm.mkdir(exist_ok=True)
    (lm / "config.json").write_text(json.dumps({"name": "an-lm", "kind": "lm", "status": "done"}))
    with pytest.raises(WorkspaceError, match="'an-lm' is a lm model"):  # never overwritten by embeddings
        train_embeddings(trained[1], trained[0], "an-lm", FAST)
    assert json.loads((lm / "config.json").read_text())["kind"] == "lm"
