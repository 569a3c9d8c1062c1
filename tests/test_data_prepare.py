"""`seqtool data prepare`: every layout reads, every corruption is removed under its reason, clean pairs are kept,
dev/test are disjoint from train and follow the seed, and bad input is one line, exit 2, with nothing written.

The sample raw corpus (sample_data/raw/, written by sample_data/make_raw.py) comes with truth.json: the line of
each deliberate corruption and the reason it should be removed for (misaligned lines are kept: no rule sees them).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from seqtool.data.langid import LanguageID
from seqtool.data.prepare import REASONS, PrepareOptions, _normalized, prepare
from seqtool.data.readers import open_source
from tests.conftest import ROOT, SAMPLE, run_main

RAW = SAMPLE / "raw"
TRUTH = json.loads((RAW / "truth.json").read_text(encoding="utf-8"))
LAYOUTS = {
    "pairs": dict(src=RAW / "pairs.en", tgt=RAW / "pairs.ja"),
    "wikimatrix": dict(tsv=RAW / "wikimatrix.tsv", columns=(2, 3), score_column=1, src_lang="en", tgt_lang="ja"),
    "kftt": dict(kftt=RAW / "kftt"),
    "tatoeba": dict(tatoeba=RAW / "tatoeba", src_lang="eng", tgt_lang="jpn"),
}
NOT_CAUGHT = ("clean", "misaligned")  # kept: misaligned pairs need a model score (seqtool score --reverse)


def removed_lines(out: Path) -> dict[int, str]:
    rows = (line.split("\t") for line in (out / "removed.tsv").read_text(encoding="utf-8").splitlines())
    return {int(row[1]): row[0] for row in rows}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_removes_each_corruption_with_its_reason(tmp_path: Path, layout: str) -> None:
    options = PrepareOptions(write_removed=True, min_score=1.04 if layout == "wikimatrix" else None)
    report = prepare(open_source(**LAYOUTS[layout]), tmp_path / "out", options)
    expected = {n: kind for kind, ns in TRUTH[layout].items() if kind not in NOT_CAUGHT for n in ns}
    assert removed_lines(tmp_path / "out") == expected
    assert {r for r in expected.values()} <= set(REASONS)
    kept = sum(len(TRUTH[layout].get(k, [])) for k in NOT_CAUGHT)
    held_out = report.splits["dev"] + report.splits["test"]  # KFTT's own, read too
    assert report.splits["train"] == kept and report.read == kept + len(expected) + held_out
    assert sum(report.removed.values()) == len(expected)
    assert lines(tmp_path / "out" / "train.en") and (tmp_path / "out" / "train.ja").is_file()


def test_clean_pairs_are_kept_in_order_and_unchanged(tmp_path: Path) -> None:
    prepare(open_source(**LAYOUTS["pairs"]), tmp_path / "out")
    en, ja = lines(RAW / "pairs.en"), lines(RAW / "pairs.ja")
    keep = sorted(n for k in NOT_CAUGHT for n in TRUTH["pairs"][k])
    assert lines(tmp_path / "out" / "train.en") == [en[n - 1] for n in keep]
    assert lines(tmp_path / "out" / "train.ja") == [ja[n - 1] for n in keep]


def test_kftt_split_is_kept_and_a_tarball_reads_the_same(tmp_path: Path) -> None:
    folder = prepare(open_source(kftt=RAW / "kftt"), tmp_path / "a")
    tarball = tmp_path / "kftt-data-1.0.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(RAW / "kftt" / "kftt-data-1.0", arcname="kftt-data-1.0")
    packed = prepare(open_source(corpus=tarball), tmp_path / "b")  # layout detected
    assert folder.splits == packed.splits == {"train": 150, "dev": 40, "test": 40}
    for name in ("train.en", "train.ja", "dev.en", "dev.ja", "test.en", "test.ja"):
        assert lines(tmp_path / "a" / name) == lines(tmp_path / "b" / name)
    orig = RAW / "kftt" / "kftt-data-1.0" / "data" / "orig"
    assert lines(tmp_path / "a" / "dev.ja") == lines(orig / "kyoto-dev.ja")  # as published
    # the direction follows the languages: ja -> en swaps the files, names and all
    prepare(open_source(kftt=RAW / "kftt", src_lang="ja"), tmp_path / "c")
    assert lines(tmp_path / "c" / "test.en") == lines(orig / "kyoto-test.en")


def test_gzipped_tsv_and_tatoeba_codes(tmp_path: Path) -> None:
    packed = tmp_path / "wm.tsv.gz"
    packed.write_bytes(gzip.compress((RAW / "wikimatrix.tsv").read_bytes()))
    plain = prepare(open_source(**LAYOUTS["wikimatrix"]), tmp_path / "a", PrepareOptions(min_score=1.04))
    zipped = prepare(
        open_source(**{**LAYOUTS["wikimatrix"], "tsv": packed}), tmp_path / "b", PrepareOptions(min_score=1.04)
    )
    assert plain.removed == zipped.removed and plain.kept == zipped.kept
    archive = tmp_path / "en-ja.tar.gz"  # JParaCrawl's release: one .txt inside a tarball
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(RAW / "wikimatrix.tsv", arcname="en-ja/en-ja.bicleaner05.txt")
    tarred = prepare(
        open_source(**{**LAYOUTS["wikimatrix"], "tsv": archive}), tmp_path / "c", PrepareOptions(min_score=1.04)
    )
    assert tarred.removed == plain.removed
    assert lines(tmp_path / "a" / "train.ja") == lines(tmp_path / "b" / "train.ja")
    # Tatoeba's three-letter codes name the output files by the two-letter ones
    prepare(open_source(**LAYOUTS["tatoeba"]), tmp_path / "t")
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["report.json", "train.en", "train.ja"]


SMALL = [  # (source, target, the reason, or None to keep)
    ("My father likes tea.", "私の父はお茶が好きです。", None),
    ("My father likes tea.", "私の父はお茶が好きです。", "duplicate"),
    ("my father likes tea!!", "私の父は、お茶が好きです", "near_duplicate"),
    ("We went to the beach yesterday.", "", "empty"),
    ("   ", "私たちは昨日海岸に行きました。", "empty"),
    ("私たちは昨日海岸に行きました。", "We went to the beach yesterday.", "wrong_script"),
    ("<b>Tom can swim.</b>", "トムは泳げる。", "markup"),
    ("Tom &amp; Mary can swim.", "トムとメアリーは泳げる。", "markup"),
    ("Tom can ski.", "Tom can ski.", "same_text"),
    ("Tom can ski.", "トムはスキーができる。" * 10, "length_ratio"),
    (" ".join(["word"] * 251), "単語" * 100, "too_long"),
    ("Mary reads a book.", "本" * 501, "too_long"),
    ("Der Lehrer hat gestern einen langen Brief geschrieben.", "先生は昨日長い手紙を書きました。", "wrong_language"),
    ("The teacher wrote a long letter yesterday.", "先生は昨日長い手紙を書きました。", None),
    ("Yes.", "はい、そうです。", None),  # short pairs are not judged on one word
    ("a < b and c > d", "aはbより小さく、cはdより大きい。", None),  # comparisons are not markup
]


def write_pairs(folder: Path, rows: list[tuple[str, str, str | None]]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in ((0, "in.en"), (1, "in.ja")):
        (folder / name).write_text("".join(r[i] + "\n" for r in rows), encoding="utf-8")
    return folder / "in.en", folder / "in.ja"


def test_each_rule_on_small_pairs(tmp_path: Path) -> None:
    src, tgt = write_pairs(tmp_path, SMALL)
    report = prepare(open_source(src=src, tgt=tgt), tmp_path / "out", PrepareOptions(write_removed=True))
    assert removed_lines(tmp_path / "out") == {n: r for n, (_, _, r) in enumerate(SMALL, start=1) if r}
    assert lines(tmp_path / "out" / "train.en") == [s for s, _, r in SMALL if r is None]
    assert report.checks == {"src": "langid", "tgt": "script"}
    # every rule can be switched off, and then the pair is kept
    relaxed = PrepareOptions(dedup="off", drop_markup=False, drop_same=False, langid=False, max_ratio=0,
                             max_words=1000, max_chars=1000)  # fmt: skip
    report = prepare(open_source(src=src, tgt=tgt), tmp_path / "all", relaxed)
    assert report.removed == {**dict.fromkeys(REASONS, 0), "empty": 2, "wrong_script": 2}  # swapped, English twice


def test_exact_dedup_keeps_near_duplicates(tmp_path: Path) -> None:
    src, tgt = write_pairs(tmp_path, SMALL[:3])
    report = prepare(open_source(src=src, tgt=tgt), tmp_path / "out", PrepareOptions(dedup="exact"))
    assert report.removed["duplicate"] == 1 and report.removed["near_duplicate"] == 0 and report.kept == 2


def test_dev_test_are_disjoint_from_train_exact_and_seeded(tmp_path: Path) -> None:
    source = open_source(**LAYOUTS["pairs"])
    whole = prepare(source, tmp_path / "whole")
    runs = {name: prepare(source, tmp_path / name, PrepareOptions(dev=20, test=15, seed=seed))
            for name, seed in (("a", 1), ("b", 1), ("c", 2))}  # fmt: skip
    assert runs["a"].splits == {"train": whole.kept - 35, "dev": 20, "test": 15}
    for side in ("en", "ja"):
        assert lines(tmp_path / "a" / f"dev.{side}") == lines(tmp_path / "b" / f"dev.{side}")  # reproducible
    assert lines(tmp_path / "a" / "dev.en") != lines(tmp_path / "c" / "dev.en")  # another seed, another sample
    only_test = prepare(source, tmp_path / "t", PrepareOptions(test=5))
    assert only_test.files == {"train": ["train.en", "train.ja"], "test": ["test.en", "test.ja"]}
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [
        "report.json",
        "test.en",
        "test.ja",
        "train.en",
        "train.ja",
    ]

    def pairs(folder: str, split: str) -> set[tuple[bytes, bytes]]:
        en, ja = lines(tmp_path / folder / f"{split}.en"), lines(tmp_path / folder / f"{split}.ja")
        return {(_normalized(s), _normalized(t)) for s, t in zip(en, ja, strict=True)}

    for run in ("a", "c"):
        train, dev, test = pairs(run, "train"), pairs(run, "dev"), pairs(run, "test")
        assert not (train & dev or train & test or dev & test)
        assert train | dev | test == pairs("whole", "train")  # nothing lost, nothing added


def test_batched_language_id_agrees_with_py3langid() -> None:
    texts = lines(RAW / "pairs.en")[:200] + [
        "Der Lehrer hat gestern einen Brief geschrieben.",
        "Je suis fatigué ce soir.",
    ]
    batched = LanguageID()
    assert batched.batched  # the installed py3langid's model arrays are read
    one_by_one = LanguageID()
    one_by_one.batched = False
    for lang in ("en", "de"):
        fast, slow = batched.probability(texts, lang), one_by_one.probability(texts, lang)
        assert max(abs(a - b) for a, b in zip(fast, slow, strict=True)) < 1e-3


def test_library_imports_without_cli_or_torch() -> None:
    code = "import sys, seqtool.data.prepare; assert not {'torch', 'typer', 'seqtool.cli'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_cli_table_json_and_force(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    args = ["data", "prepare", "--src", str(RAW / "pairs.en"), "--tgt", str(RAW / "pairs.ja"), "--out", str(out)]
    code, stdout, err = run_main(capsys, *args, "--dev", "10", "--test", "10")
    assert code == 0, err
    assert "removed: duplicate" in stdout and "pairs/s" in stdout and (out / "dev.ja").is_file()
    code, _, err = run_main(capsys, *args)
    assert code == 2 and "exists and is not empty; add --force" in err and (out / "dev.ja").is_file()
    code, stdout, err = run_main(capsys, *args, "--force", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report == json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["removed"]["duplicate"] == len(TRUTH["pairs"]["duplicate"]) and not (out / "dev.ja").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left beside it


def bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("0.9\tOne.\t一。\n0.8\tTwo only\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.en"
    latin1.write_bytes("Fine.\nCaf\xe9 au lait.\n".encode("latin-1"))
    ja = tmp_path / "ok.ja"
    ja.write_text("良い。\nカフェオレ。\n", encoding="utf-8")
    short = tmp_path / "short.txt"
    short.write_text("良い。\n", encoding="utf-8")
    score = tmp_path / "score.tsv"
    score.write_text("high\tOne.\t一。\n", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    tatoeba = tmp_path / "tatoeba"
    tatoeba.mkdir()
    (tatoeba / "sentences.csv").write_text("1\teng\tHello there.\nabc\tjpn\tこんにちは。\n", encoding="utf-8")
    (tatoeba / "links.csv").write_text("1\t2\n", encoding="utf-8")
    unknown = tmp_path / "corpus.bin"
    unknown.write_bytes(b"\x00\x01")
    return [
        (["--src", str(tmp_path / "missing.en"), "--tgt", str(ja)], "missing.en: no such file"),
        (["--tsv", str(tsv), "--columns", "2,3"], f"{tsv}:2: 2 tab-separated column(s), --columns/--score-column need 3"),
        (["--tsv", str(score), "--columns", "2,3", "--score-column", "1"], f"{score}:1: column 1 is 'high', not a number"),
        (["--src", str(latin1), "--tgt", str(ja)], f"{latin1}:2: invalid UTF-8 at byte 3"),
        (["--src", str(ja), "--tgt", str(short)], f"{ja}:2: {short} ends before this line"),
        ([str(unknown)], f"{unknown}: unknown layout"),
        ([str(tmp_path / "folder")], "unknown layout"),
        (["--kftt", str(tmp_path / "folder")], "no KFTT layout inside"),
        (["--kftt", str(RAW / "kftt"), "--dev", "10"], "has its own dev/test split"),
        (["--tatoeba", str(RAW / "tatoeba")], "give --src-lang and --tgt-lang"),
        (["--tatoeba", str(tatoeba), "--src-lang", "en", "--tgt-lang", "ja"], "sentences.csv:2: expected 3 tab-separated"),
        (["--tsv", str(tsv), "--columns", "2"], "--columns must be two 1-based column numbers"),
        (["--tsv", str(tsv), "--min-score", "1"], "--min-score needs --score-column"),
        (["--src", str(ja)], "give --src and --tgt together"),
        ([], "give exactly one corpus"),
        (["--src", str(RAW / "pairs.en"), "--tgt", str(RAW / "pairs.ja"), "--dev", "300", "--test", "300"],
         "pairs pass the filters: --dev 300 --test 300 would leave none for training"),
    ]  # fmt: skip


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for args, needle in bad_inputs(tmp_path):
        before = sorted(p.name for p in tmp_path.iterdir())
        code, _, err = run_main(capsys, "data", "prepare", *args, "--out", str(tmp_path / "out"))
        assert code == 2, (args, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
        assert needle in err, (needle, err)
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temporary folder
