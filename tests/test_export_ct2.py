"""`seqtool export --engine ctranslate2`: a tiny trained Transformer translator and LM converted to
CTranslate2 must give seqtool's own outputs (float32: token for token, log-probs to 1e-4), int8 must
keep the BLEU at a third of the size, and models CTranslate2 cannot run get a clear error.

int8 output is never compared with torch's text: CTranslate2's int8 kernels round differently on each
CPU (AVX2 and AVX-512 differ), so the text they give is only its own; int8 is held to a BLEU margin, and
which engine translated is read from what ran (torch imported or not), not from text agreeing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seqtool.data.specials import BOS, EOS
from seqtool.engines import exported_engines, read_meta
from seqtool.engines.ct2 import open_translator, vocabulary
from seqtool.metrics import bleu_only
from seqtool.models.base import Batch
from seqtool.models.lm import lm_config
from seqtool.store.workspace import Workspace
from seqtool.tasks.export import export_model
from seqtool.tasks.lm import TokenizerConfig, lm_train_config, load_lm, train_lm
from seqtool.tasks.mt import MTDataConfig, load_translator, mt_train_config, read_dev, train_mt
from tests.conftest import SAMPLE, assert_clean_error, run_cli

ENJA = SAMPLE / "enja"
TINY_TRANSFORMER = dict(dim=128, heads=4, ff_dim=256, encoder_layers=2, decoder_layers=2, dropout=0.0)
# How far int8's corpus BLEU (sacrebleu, dev set) may fall below float32's or torch's. Kernel rounding only
# flips near-ties: measured on this model, int8 and torch give the same beam-5 text on 99-100 of the 100
# dev lines on AVX-512 and (forced) AVX2 with BLEU within 0.1, and 88 of 100 on a real AVX2-only EPYC. A
# one-token error in each of 12 of these lines costs 1.7-3.1 BLEU (20 random draws), so 3 points takes
# the worst CPU seen, while a broken conversion (wrong scales, a transposed matrix) costs tens of points.
INT8_BLEU_MARGIN = 3.0


@pytest.fixture(scope="module")
def mt_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A tiny Transformer translator (the default recipe, checkpoint averaging included), exported twice."""
    torch.set_num_threads(1)
    ws = Workspace(tmp_path_factory.mktemp("ct2") / "ws")
    train_mt(
        ws, "tf", ENJA / "train.en", ENJA / "train.ja", ENJA / "dev.en", ENJA / "dev.ja", "transformer",
        TINY_TRANSFORMER, mt_train_config("transformer", epochs=8, batch_tokens=1000, lr=3e-3, warmup=50),
        MTDataConfig(src_vocab=300, tgt_vocab=300),
    )  # fmt: skip
    for q in ("float32", "int8"):
        export_model(ws, "tf", quantize=q)
    return ws


def _engine(ws: Workspace, quantization: str):  # noqa: ANN202 - test helper
    tr = load_translator(ws, "tf", "cpu")
    folder = tr.md.path / f"ct2-{quantization}"
    return tr, open_translator(tr.md, tr.config, folder, tr.src_tok, tr.tgt_tok, 1, read_meta(folder)["positions"])


def _dev() -> tuple[list[str], list[str]]:
    return read_dev(ENJA / "dev.en", ENJA / "dev.ja")


def test_export_writes_engine_folders(mt_ws: Workspace) -> None:
    md = mt_ws.model_dir("tf")
    assert exported_engines(md.path) == ["ct2-int8", "ct2-float32"]
    meta = read_meta(md.path / "ct2-int8")
    assert meta["quantization"] == "int8" and meta["weights"]["size"] == md.weights_path.stat().st_size
    vocab = json.loads((md.path / "ct2-float32" / "target_vocabulary.json").read_text())
    assert vocab[BOS] == load_translator(mt_ws, "tf", "cpu").tgt_tok.id_to_piece(BOS)
    r = run_cli("export", "tf", "--quantize", "int8", "-w", str(mt_ws.root))
    assert_clean_error(r, "already exists", "--force")


def test_float32_greedy_matches_torch_token_for_token(mt_ws: Workspace) -> None:
    tr, ct = _engine(mt_ws, "float32")
    sources, _ = _dev()
    ours = tr.translate(sources, beam=1, tokenized=True)
    theirs = ct.translate(sources, beam=1, tokenized=True)
    assert sum(bool(t[0].hypothesis.ids) for t in ours) > 0.9 * len(sources)  # the model learned to say something
    for o, t in zip(ours, theirs, strict=True):
        a, b = o[0].hypothesis, t[0].hypothesis
        assert b.ids == a.ids and t[0].text == o[0].text
        assert b.score == pytest.approx(a.score, abs=1e-4 * (len(a.ids) + 1))
    # Per-token log-probabilities: CTranslate2's scoring of seqtool's output vs the torch model's.
    src_ids = tr.src_tok.encode_batch(sources)
    src_vocab, tgt_vocab = vocabulary(tr.src_tok), vocabulary(tr.tgt_tok)
    scored = ct.translator.score_batch(
        [[src_vocab[i] for i in s] for s in src_ids], [[tgt_vocab[i] for i in o[0].hypothesis.ids] for o in ours]
    )
    model = tr.model.eval()
    for s, o, result in zip(src_ids, ours, scored, strict=True):
        out = o[0].hypothesis.ids
        src = torch.tensor([s])
        batch = Batch(torch.tensor([[BOS, *out]]), torch.tensor([[*out, EOS]]), src, torch.tensor([len(s)]))
        with torch.no_grad():
            logp = torch.log_softmax(model.logits(model.features(batch)), -1)[0]
        torch_tokens = logp.gather(1, batch.tgt_out[0][:, None])[:, 0].numpy()
        np.testing.assert_allclose(np.array(result.log_probs), torch_tokens, atol=1e-4)


def test_beam_search_agrees_and_ranks_with_the_gnmt_penalty(mt_ws: Workspace) -> None:
    tr, ct = _engine(mt_ws, "float32")
    sources, _ = _dev()
    ours = tr.translate(sources, beam=5, tokenized=True)
    theirs = ct.translate(sources, beam=5, tokenized=True)
    same = [o[0].text == t[0].text for o, t in zip(ours, theirs, strict=True)]
    assert sum(same) >= 0.95 * len(sources)
    for o, t, agree in zip(ours, theirs, same, strict=True):
        if agree:  # the same hypothesis gets the same raw and normalized score
            assert t[0].hypothesis.score == pytest.approx(o[0].hypothesis.score, abs=1e-3)
            assert t[0].hypothesis.normalized == pytest.approx(o[0].hypothesis.normalized, abs=1e-3)
    # --show-attention: one row per output token (+ end of sentence), each a distribution over the source
    for beam in (1, 3):
        ((best,),) = ct.translate(["my father likes cats ."], beam=beam, return_attention=True)
        hyp = best.hypothesis
        weights = np.array(hyp.attention)
        assert weights.shape == (len(hyp.ids) + 1, len(tr.src_tok.encode("my father likes cats .")))
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-4)
    nbest = ct.translate(sources[:10], beam=4, nbest=3)
    for hyps in nbest:
        scores = [h.hypothesis.normalized for h in hyps]
        assert len(hyps) == 3 and scores == sorted(scores, reverse=True)


def test_parallel_workers_translate_as_one(mt_ws: Workspace) -> None:
    """Two workers decode halves of each call at once (inter_threads): every sentence must still get
    exactly the translations and scores one worker gives it, in input order."""
    tr, one = _engine(mt_ws, "float32")
    folder = tr.md.path / "ct2-float32"
    two = open_translator(tr.md, tr.config, folder, tr.src_tok, tr.tgt_tok, 2, read_meta(folder)["positions"])
    assert (one.workers, two.workers) == (1, 2)
    sources, _ = _dev()
    for beam, nbest, batch in ((1, 1, 64), (5, 2, 7)):  # batch 7: calls of 14 sentences, split 7 + 7
        a = one.translate(sources, beam=beam, nbest=nbest, tokenized=True, batch_sentences=batch)
        b = two.translate(sources, beam=beam, nbest=nbest, tokenized=True, batch_sentences=batch)
        assert [[t.text for t in x] for x in b] == [[t.text for t in x] for x in a]
        for x, y in zip(a, b, strict=True):
            assert [t.hypothesis.score for t in y] == pytest.approx([t.hypothesis.score for t in x], abs=1e-4)


def test_int8_keeps_bleu_at_a_third_of_the_size(mt_ws: Workspace) -> None:
    sources, refs = _dev()
    _, fp32 = _engine(mt_ws, "float32")
    _, int8 = _engine(mt_ws, "int8")
    bleu = {}
    for name, engine in (("float32", fp32), ("int8", int8)):
        bleu[name] = bleu_only([t[0].text for t in engine.translate(sources, beam=5, tokenized=True)], refs)
    assert bleu["float32"] > 40  # a model that translates, so the margin means something (88-96 measured)
    assert bleu["int8"] >= bleu["float32"] - INT8_BLEU_MARGIN, bleu
    md = mt_ws.model_dir("tf")
    assert (md.path / "ct2-int8" / "model.bin").stat().st_size <= md.weights_path.stat().st_size / 3


def test_transformer_lm_runs_as_a_generator(tmp_path) -> None:  # noqa: ANN001
    import ctranslate2

    torch.set_num_threads(1)
    ws = Workspace(tmp_path / "ws")
    cfg = lm_config(cell="transformer", heads=2, ff_dim=96, layers=1, emb_dim=48, hidden=48, dropout=0.0)
    train_lm(ws, "tlm", ENJA / "train.en", ENJA / "dev.en", cfg,
             lm_train_config(epochs=4, batch_tokens=400, lr=3e-3), TokenizerConfig())  # fmt: skip
    export_model(ws, "tlm", quantize="float32")
    lm = load_lm(ws, "tlm", "cpu")
    vocab = vocabulary(lm.tokenizer)
    gen = ctranslate2.Generator(str(lm.md.path / "ct2-float32"), intra_threads=1)
    prompts = [line.split()[:3] for line in (ENJA / "dev.en").read_text().splitlines()[:20]]
    model = lm.model.eval()
    for words in prompts:
        prompt = [BOS, *(lm.tokenizer.encode(" ".join(words)))]
        # seqtool's greedy continuation, step by step, with its per-token log-probabilities
        state, ids, logps = model.start(None, None, 1), list(prompt), []
        with torch.no_grad():
            for t in prompt[:-1]:
                _, state = model.step(torch.tensor([t]), state)
            token = prompt[-1]
            for _ in range(12):
                logp, state = model.step(torch.tensor([token]), state)
                token = int(logp[0].argmax())
                ids.append(token)
                logps.append(float(logp[0, token]))
                if token == EOS:
                    break
        (result,) = gen.generate_batch([[vocab[i] for i in prompt]], max_length=len(ids) - len(prompt),
                                       min_length=0, include_prompt_in_result=False, return_end_token=True)  # fmt: skip
        assert result.sequences_ids[0] == ids[len(prompt) :]
        (scored,) = gen.score_batch([[vocab[i] for i in ids]])
        np.testing.assert_allclose(np.array(scored.log_probs)[len(prompt) - 1 :], logps, atol=1e-4)


def test_recurrent_models_get_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    torch.set_num_threads(1)
    ws = Workspace(tmp_path / "ws")
    train_mt(
        ws, "gru", ENJA / "train.en", ENJA / "train.ja", ENJA / "dev.en", ENJA / "dev.ja", "gru",
        {"emb_dim": 32, "hidden": 32}, mt_train_config("gru", epochs=1, batch_tokens=2000),
        MTDataConfig(src_vocab=200, tgt_vocab=200),
    )  # fmt: skip
    r = run_cli("export", "gru", "-w", str(ws.root))
    assert_clean_error(r, "CTranslate2 runs only Transformer", "--engine torch")
    assert exported_engines(ws.model_dir("gru").path) == []
    assert_clean_error(run_cli("export", "gru", "--quantize", "int4", "-w", str(ws.root)), "--quantize")
    assert_clean_error(run_cli("export", "nope", "-w", str(ws.root)), "no model named 'nope'")


# --- the translate integration: auto engine, no torch on the fast path, unusable engines -----------------

NO_TORCH = """
import json, sys
from seqtool.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(json.dumps({"torch": "torch" in sys.modules, "code": code}), file=sys.stderr)
"""


def _no_torch(*args: str) -> tuple[str, dict]:
    """Run the CLI with ARGS; its stdout, and {"torch": whether torch got imported, "code": exit code}: with
    torch never imported, the CTranslate2 engine translated everything."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, timeout=600)
    return r.stdout, json.loads(r.stderr.strip().splitlines()[-1])


def _copy(ws: Workspace, tmp_path) -> Workspace:  # noqa: ANN001
    import shutil

    shutil.copytree(ws.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def test_translate_uses_the_engine_without_importing_torch(mt_ws: Workspace) -> None:
    sources, refs = _dev()
    args = ["translate", "-w", str(mt_ws.root), "--input", str(ENJA / "dev.en"), "--tokenized", "--json"]
    stdout, ran = _no_torch(*args)
    assert ran == {"torch": False, "code": 0}  # the engine translated: torch was never imported
    engine = [row["translations"][0]["text"] for row in json.loads(stdout)["results"]]
    assert len(engine) == len(sources)
    # auto picks the int8 export: the CLI gives what that engine gives here (same CPU, same kernels) ...
    _, int8 = _engine(mt_ws, "int8")
    assert engine == [t[0].text for t in int8.translate(sources, beam=5, tokenized=True)]
    # ... and that keeps torch's BLEU (not its text: int8 rounding differs from CPU to CPU)
    torch_out = [t[0].text for t in load_translator(mt_ws, "tf", "cpu").translate(sources, beam=5, tokenized=True)]
    bleu = {"torch": bleu_only(torch_out, refs), "engine": bleu_only(engine, refs)}
    assert bleu["torch"] > 40 and bleu["engine"] >= bleu["torch"] - INT8_BLEU_MARGIN, bleu
    # evaluate mt and the listing say which engine runs; --engine torch still runs torch
    r = run_cli("evaluate", "mt", "-w", str(mt_ws.root), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["engine"] == "ctranslate2"
    r = run_cli("evaluate", "mt", "-w", str(mt_ws.root), "--engine", "torch", "--json")
    assert json.loads(r.stdout)["engine"] == "torch"
    listing = json.loads(run_cli("models", "-w", str(mt_ws.root), "--json").stdout)
    assert listing["models"][0]["engines"] == ["torch", "ct2-int8", "ct2-float32"]
    shown = json.loads(run_cli("models", "show", "tf", "-w", str(mt_ws.root), "--json").stdout)
    assert shown["engines"] == ["torch", "ct2-int8", "ct2-float32"]


def test_unusable_engines_fall_back_with_a_notice_or_fail_cleanly(mt_ws: Workspace, tmp_path) -> None:  # noqa: ANN001
    import os
    import shutil

    ws = _copy(mt_ws, tmp_path)
    md = ws.model_dir("tf")
    w = ["-w", str(ws.root), "--input", str(ENJA / "dev.en"), "--beam", "2"]
    reference = run_cli("translate", *w, "--engine", "torch")
    assert reference.returncode == 0 and reference.stdout.count("\n") == 100
    # a damaged model.bin (CTranslate2 would refuse it, or worse, load it): torch translates, one notice
    model_bin = md.path / "ct2-int8" / "model.bin"
    model_bin.write_bytes(model_bin.read_bytes()[:1000])
    r = run_cli("translate", *w)
    assert r.returncode == 0 and r.stdout == reference.stdout
    assert "damaged" in r.stderr and "translating with torch" in r.stderr and len(r.stderr.splitlines()) == 1
    assert_clean_error(run_cli("translate", *w, "--engine", "ctranslate2"), "damaged", "seqtool export tf")
    # weights changed after the export (retrained, compressed): stale
    shutil.rmtree(md.path / "ct2-int8")
    os.utime(md.weights_path, ns=(1, 1))
    r = run_cli("translate", *w)
    assert r.returncode == 0 and r.stdout == reference.stdout and "other weights" in r.stderr
    # an incomplete export folder, then none at all
    (md.path / "ct2-float32" / "seqtool-engine.json").unlink()
    assert_clean_error(run_cli("translate", *w, "--engine", "ctranslate2"), "not a complete seqtool export")
    shutil.rmtree(md.path / "ct2-float32")
    r = run_cli("translate", *w)
    assert r.returncode == 0 and r.stdout == reference.stdout and r.stderr == ""
    assert_clean_error(run_cli("translate", *w, "--engine", "ctranslate2"), "no CTranslate2 engine")
    assert_clean_error(run_cli("translate", *w, "--engine", "onnx"), "--engine must be one of")


def test_distillation_teacher_translates_on_its_engine(mt_ws: Workspace, tmp_path) -> None:  # noqa: ANN001
    from seqtool.tasks.distill import prepare

    ws = _copy(mt_ws, tmp_path)
    plan = prepare(ws, "tf", "student", limit=30, beam=3)
    assert plan.info["teacher_engine"] == "ctranslate2"
    sources = [line for line in (ENJA / "train.en").read_text().splitlines()][:30]
    _, int8 = _engine(ws, "int8")
    expected = [t[0].text for t in int8.translate(sources, beam=3, tokenized=True)]
    assert plan.tgt.read_text().splitlines() == expected


def test_a_compressed_model_exports_its_dequantized_weights(mt_ws: Workspace, tmp_path) -> None:  # noqa: ANN001
    import dataclasses

    from seqtool.tasks.compress import compress_model
    from seqtool.tasks.export import _fp32_model, export_hint

    ws = _copy(mt_ws, tmp_path)
    compress_model(ws, "tf", "tf8", "int8", 0.0)
    assert export_hint(ws, "tf8") is not None
    export_model(ws, "tf8", quantize="float32")
    sources, _ = _dev()
    # torch on the dequantized weights (plain fp32 modules, not torch's int8 kernels): the float32 export of
    # those weights must give its translations token for token, on any CPU
    tr = load_translator(ws, "tf8", "cpu")
    tr = dataclasses.replace(tr, model=_fp32_model(tr.md, tr.config)[0])
    dequantized = [t[0].text for t in tr.translate(sources, beam=1, tokenized=True)]
    r = run_cli("translate", "-w", str(ws.root), "-m", "tf8", "--input", str(ENJA / "dev.en"), "--beam", "1",
                "--tokenized")  # fmt: skip
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.splitlines() == dequantized


def test_the_server_translates_on_the_engine(mt_ws: Workspace) -> None:
    from fastapi.testclient import TestClient

    from seqtool.serve.app import create_app

    sources, _ = _dev()
    _, int8 = _engine(mt_ws, "int8")
    expected = int8.translate(sources[:4], beam=4, nbest=2, alpha=0.6)
    with TestClient(create_app(mt_ws, device="cpu")) as client:
        r = client.post("/api/translate", json={"q": sources[:4], "beam": 4, "nbest": 2, "length_penalty": 0.6})
    assert r.status_code == 200, r.text
    for got, hyps in zip(r.json()["translations"], expected, strict=True):
        assert [c["text"] for c in got["nbest"]] == [t.text for t in hyps]
        assert [c["score"] for c in got["nbest"]] == pytest.approx([t.hypothesis.score for t in hyps], abs=1e-4)


def test_sources_beyond_the_position_table_go_to_torch(mt_ws: Workspace, tmp_path) -> None:  # noqa: ANN001
    """In auto mode the short line goes to the engine and the long one to torch: each line must be what the
    engine that should have run gives it alone (the engine's int8 text is its own, not torch's)."""
    long = " ".join(["my father likes cats ."] * 110)  # more than the export's 512 positions
    files = {}
    for name, lines in (("short", ["i can 't swim ."]), ("long", [long]), ("both", ["i can 't swim .", long])):
        files[name] = tmp_path / f"{name}.en"
        files[name].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    w = ["translate", "-w", str(mt_ws.root), "--beam", "2", "--input"]
    short, ran = _no_torch(*w, str(files["short"]))
    assert ran == {"torch": False, "code": 0} and short.count("\n") == 1  # the engine alone, no torch
    long_torch = run_cli(*w, str(files["long"]), "--engine", "torch")
    assert long_torch.returncode == 0 and long_torch.stdout.count("\n") == 1
    both, ran = _no_torch(*w, str(files["both"]))
    assert ran == {"torch": True, "code": 0}  # torch was loaded, for the long line only:
    assert both == short + long_torch.stdout
    assert_clean_error(run_cli(*w, str(files["both"]), "--engine", "ctranslate2"), "sentence 2 has", "--engine torch")
