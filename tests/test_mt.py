"""Translation: tiny translators trained on the sample pairs must learn; decoding and scoring work end to end."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch

from seqtool.data.batch import Batch
from seqtool.data.search import gnmt_penalty
from seqtool.data.specials import BOS, EOS
from seqtool.decoding import beam_search, greedy
from seqtool.metrics import translation_scores
from seqtool.models.seq2seq import build_translator, translator_config
from seqtool.store.workspace import Workspace
from seqtool.tasks.mt import MTDataConfig, load_translator, mt_train_config, train_mt
from seqtool.training.trainer import Trainer
from tests.conftest import SAMPLE, SMALL_RNN, assert_clean_error, run_cli, run_main, train_tiny_mt


def test_gru_attention_learns_and_translates_known_pair(tmp_path, sample):
    ws, result = train_tiny_mt(tmp_path, "gru", epochs=8, attention="bahdanau", bidirectional=True)
    history = load_translator(ws, None, "cpu").md.metrics()
    assert history[-1]["dev_bleu"] > history[0]["dev_bleu"] + 20
    assert result.best["value"] > 60
    tr = load_translator(ws, None, "cpu")
    # A training pair, typed as a user would (raw English); the output is shown without word spaces.
    assert tr.translate(["I can't swim."])[0][0].text == "私は泳げない。"
    assert tr.translate(["i can 't swim ."], tokenized=True)[0][0].text == "私 は 泳げ な い 。"
    # Greedy and beam search agree where they must: on a training sentence the model has learnt,
    # beam 5 finds the greedy translation or one it scores at least as high (same GNMT scoring),
    # and the n-best list is ordered by that score.
    text = "my father likes cats ."
    ((greedy,),) = tr.translate([text], beam=1)
    g = greedy.hypothesis
    hyps = tr.translate([text], beam=5, nbest=3)[0]
    best = hyps[0].hypothesis
    assert best.normalized >= g.score / gnmt_penalty(len(g.ids) + 1, 1.0) - 1e-5
    assert hyps[0].text == greedy.text == "私の父は猫が好きです。"  # the training pair's target
    scores = [t.hypothesis.normalized for t in hyps]
    assert scores == sorted(scores, reverse=True) and len({tuple(t.hypothesis.ids) for t in hyps}) == 3
    # Attention weights: one row per output token (+ </s>), each a distribution over the source.
    ((best,),) = tr.translate(["my father likes cats ."], beam=1)
    hyp = best.hypothesis
    weights = torch.tensor(hyp.attention)
    assert weights.shape[0] == len(hyp.ids) + 1
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[0]), atol=1e-4)


def test_transformer_learns(tmp_path, sample):
    ws, result = train_tiny_mt(tmp_path, "transformer", epochs=6, dim=64, heads=2, ff_dim=128,
                               encoder_layers=2, decoder_layers=2, dropout=0.0)  # fmt: skip
    history = load_translator(ws, None, "cpu").md.metrics()
    assert history[-1]["dev_bleu"] > history[0]["dev_bleu"] + 20


def test_default_recipe_warms_up_the_rate_from_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`seqtool train-mt` with the default recipe (a tiny Transformer planned for 800 epochs of 300 pairs,
    stopped by a Ctrl-C after two steps): thousands of planned updates keep the recipe's warm-up (runs planned
    shorter warm up over a quarter of their updates: tests/test_tiny_corpus.py). Adam applies a rate that
    starts near 0 and rises linearly, far below the peak, as the schedule config.json records
    (inverse_sqrt: peak * min(step / warmup, sqrt(warmup / step))) prescribes; Adam's first update moves
    each weight by at most that first, small rate."""
    applied: list[tuple[type, float, float]] = []  # per step: optimizer, its rate, the largest weight change
    original = Trainer.train_step

    def recorded(self: Trainer, batch: Batch) -> tuple[float, int]:
        before = [p.detach().clone() for p in self.model.parameters()]
        out = original(self, batch)
        moved = max(float((p.detach() - b).abs().max()) for p, b in zip(self.model.parameters(), before, strict=True))
        applied.append((type(self.optimizer), self.optimizer.param_groups[0]["lr"], moved))
        if len(applied) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C: the run stops after this step, resumable
        return out

    monkeypatch.setattr(Trainer, "train_step", recorded)
    files = {}
    for part, lang, lines in (("train", "en", 300), ("train", "ja", 300), ("dev", "en", 10), ("dev", "ja", 10)):
        text = (SAMPLE / "enja" / f"{part}.{lang}").read_text(encoding="utf-8").splitlines()[:lines]
        files[part, lang] = tmp_path / f"{part}.{lang}"
        files[part, lang].write_text("\n".join(text) + "\n", encoding="utf-8")
    code, _, err = run_main(
        capsys, "train-mt", "--src", str(files["train", "en"]), "--tgt", str(files["train", "ja"]),
        "--dev-src", str(files["dev", "en"]), "--dev-tgt", str(files["dev", "ja"]), "--layers", "1",
        "--emb-dim", "32", "--heads", "2", "--ff-dim", "64", "--src-vocab", "300", "--tgt-vocab", "300",
        "--epochs", "800", "--name", "m", "--device", "cpu", "--precision", "fp32", "--threads", "1", "--json",
        "-w", str(tmp_path / "ws"),
    )  # fmt: skip
    assert code != 0 and "interrupted" in err, err
    config = json.loads((tmp_path / "ws" / "models" / "m" / "config.json").read_text(encoding="utf-8"))
    tc = config["train_config"]
    plan = config["schedule_plan"]
    assert (plan["warmup"], plan["configured_warmup"], plan["planned_by"]) == (tc["warmup"], tc["warmup"], "epochs")
    assert plan["planned_updates"] >= 4 * tc["warmup"]  # 800 epochs of >= 2 batches: the warm-up is kept
    assert len(applied) == 2 and {optimizer for optimizer, _, _ in applied} == {torch.optim.Adam}
    (_, first, moved), (_, second, _) = applied
    assert 0 < first < second < tc["lr"] / 10  # rising from near 0, far from the peak
    assert second == pytest.approx(2 * first)  # linearly
    assert moved == pytest.approx(first, rel=1e-2)  # what Adam really applied
    peak, warmup = tc["lr"], tc["warmup"]
    assert tc["schedule"] == "inverse_sqrt"
    assert [lr for _, lr, _ in applied] == pytest.approx([peak * min(k / warmup, (warmup / k) ** 0.5) for k in (1, 2)])


@pytest.mark.parametrize("arch", ["gru", "lstm", "transformer"])
def test_incremental_decoding_matches_full_forward(arch):
    """step() with caches must give the same log-probs as features()/logits() on the whole prefix."""
    torch.manual_seed(0)
    values = {"src_vocab": 30, "tgt_vocab": 40, "dropout": 0.0}
    if arch == "transformer":
        values.update(dim=16, heads=2, ff_dim=32)
    else:
        values.update(attention="luong", bidirectional=True, emb_dim=16, hidden=24)
    model = build_translator(translator_config(arch, values)).eval()
    src = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    lengths = torch.tensor([4, 2])
    tgt_in = torch.tensor([[2, 11, 12, 13], [2, 14, 15, 16]])
    from seqtool.models.base import Batch

    full = torch.log_softmax(model.logits(model.features(Batch(tgt_in, tgt_in, src, lengths))), -1)
    state = model.start(src, lengths, 2)
    for t in range(tgt_in.shape[1]):
        logp, state = model.step(tgt_in[:, t], state)
        assert torch.allclose(logp, full[:, t], atol=1e-5), (arch, t)
    # Greedy (cached steps, a batch of two) is the argmax rollout of the full forward pass, and its
    # score is the log-probability that pass gives its output; so is every beam hypothesis's score.
    with torch.no_grad():
        for b, hyp in enumerate(greedy(model, src, lengths, max_len=6)):
            ids, score = full_forward_greedy(model, src[b : b + 1, : lengths[b]], lengths[b : b + 1], 6)
            assert hyp.ids == [i for i in ids if i != EOS] and hyp.score == pytest.approx(score, abs=1e-4)
        found = beam_search(model, src, lengths, beam=3, nbest=2, max_len=6)
        for b, hyps in enumerate(found):
            assert len(hyps) == 2 and hyps[0].normalized >= hyps[1].normalized and hyps[0].ids != hyps[1].ids
            for h in hyps:
                forced = [forced_score(model, src[b : b + 1, : lengths[b]], lengths[b : b + 1], h.ids + end)
                          for end in ([], [EOS])]  # fmt: skip
                assert min(abs(h.score - f) for f in forced) < 1e-4, (arch, b, h, forced)


def _full_logp(model, src, lengths, prefix: list[int]) -> torch.Tensor:
    """Next-token log-probs after every position of ``prefix`` (one sentence), by the full forward pass."""
    from seqtool.models.base import Batch

    tgt = torch.tensor([prefix])
    return torch.log_softmax(model.logits(model.features(Batch(tgt, tgt, src, lengths))), -1)[0]


def full_forward_greedy(model, src, lengths, max_len: int) -> tuple[list[int], float]:
    ids, score = [], 0.0
    for _ in range(max_len):
        logp = _full_logp(model, src, lengths, [BOS, *ids])[-1]
        ids.append(int(logp.argmax()))
        score += float(logp.max())
        if ids[-1] == EOS:
            break
    return ids, score


def forced_score(model, src, lengths, ids: list[int]) -> float:
    logp = _full_logp(model, src, lengths, [BOS, *ids])
    return float(sum(logp[t, i] for t, i in enumerate(ids)))


def reference_beam(model, src, length, beam: int, max_len: int, alpha: float) -> list[tuple[list[int], float]]:
    """Plain beam search over the whole vocabulary for one sentence (the oracle for the batched one)."""
    from seqtool.data.specials import PAD
    from seqtool.decoding import length_penalty

    hyps = [([], 0.0, model.start(src, length, 1), False)]
    for _ in range(max_len):
        candidates = []
        for ids, score, state, done in hyps:
            if done:
                candidates.append((ids, score, state, True))
                continue
            logp, new = model.step(torch.tensor([ids[-1] if ids else BOS]), state)
            for v in range(logp.shape[-1]):
                if v != PAD:
                    candidates.append((ids + [v], score + float(logp[0, v]), new, v == EOS))
        hyps = sorted(candidates, key=lambda c: -c[1])[:beam]
        if all(done for *_, done in hyps):
            break
    pool = [h for h in hyps if h[3]] or hyps
    ranked = sorted(pool, key=lambda h: -h[1] / float(length_penalty(torch.tensor(len(h[0])), alpha)))
    return [([i for i in ids if i != EOS], score) for ids, score, _, _ in ranked]


@pytest.mark.parametrize("arch", ["gru", "transformer"])
def test_batched_beam_search_matches_plain_beam_search(arch):
    """The batched search (per-hypothesis top-k, finished hypotheses padded) finds what a plain
    whole-vocabulary search finds, sentence by sentence, with the same scores."""
    torch.manual_seed(1)
    values = {"src_vocab": 30, "tgt_vocab": 12, "dropout": 0.0}
    if arch == "transformer":
        values.update(dim=16, heads=2, ff_dim=32)
    else:
        values.update(attention="bahdanau", emb_dim=16, hidden=24)
    model = build_translator(translator_config(arch, values)).eval()
    src = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0], [11, 12, 13, 0]])
    lengths = torch.tensor([4, 2, 3])
    found = beam_search(model, src, lengths, beam=3, nbest=3, max_len=7, alpha=1.0)
    with torch.no_grad():
        for b in range(3):
            n = int(lengths[b])
            expected = reference_beam(model, src[b : b + 1, :n], lengths[b : b + 1], 3, 7, 1.0)
            assert [h.ids for h in found[b]] == [ids for ids, _ in expected[:3]], (arch, b)
            assert [h.score for h in found[b]] == pytest.approx([sc for _, sc in expected[:3]], abs=1e-4)


def test_bleu_scoring_with_signature():
    s = translation_scores(["私 は 泳げ な い 。"], ["私 は 泳げ な い 。"])
    assert s.bleu == pytest.approx(100.0) and "tok:none" in s.signatures["bleu"]


def test_cli_mt_end_to_end_and_errors(tmp_path, sample):
    ws = str(tmp_path / "ws")
    d = sample / "enja"
    r = run_cli("train-mt", "-w", ws, "--arch", "gru", "--emb-dim", "32", "--hidden", "32", "--epochs", "1",
                "--batch-size", "2000", "--src-vocab", "200", "--tgt-vocab", "200", "--name", "m")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_cli("translate", "i can't swim", "-w", ws, "--json", "--beam", "2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["source"] == "i can't swim"
    out = tmp_path / "out.txt"
    r = run_cli("translate", "-w", ws, "--output", str(out), input="i can 't swim .\n\nmy father likes cats .\n")
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) == 3 and out.read_text().splitlines()[1] == ""
    r = run_cli("evaluate", "mt", "-w", ws, "--json", "--beam", "1")
    scores = json.loads(r.stdout)
    assert {"bleu", "chrf", "ter", "signatures"} <= set(scores) and "tok:none" in scores["signatures"]["bleu"]
    r = run_cli("evaluate", "bleu", "--hyp", str(d / "dev.ja"), "--ref", str(d / "dev.ja"), "--json")
    assert json.loads(r.stdout)["bleu"] == pytest.approx(100.0)
    # Bad input: one-line errors, exit 2.
    assert_clean_error(run_cli("translate", "", "-w", ws), "TEXT is empty")
    assert_clean_error(run_cli("translate", "hello", "--beam", "0", "-w", ws), "--beam must be > 0")
    assert_clean_error(run_cli("translate", "hello", "--show-attention", "-w", ws), "has no attention")
    assert_clean_error(run_cli("translate", "hi", "-w", str(tmp_path / "empty")), "no mt model", "seqtool demo")
    assert_clean_error(run_cli("evaluate", "lm", "--model", "m", "-w", ws), "is a mt model")
    short = tmp_path / "short.ja"
    short.write_text("私\n")
    assert_clean_error(run_cli("train-mt", "-w", ws, "--tgt", str(short), "--name", "bad"),
                       "parallel files differ in length", "has 1;")  # fmt: skip
    assert not (tmp_path / "ws/models/bad").exists()
    assert_clean_error(run_cli("train-mt", "-w", ws, "--arch", "rnnx"), "--arch must be one of")
    ja_en = ["--src", str(d / "train.ja"), "--tgt", str(d / "train.en"), "--src-lang", "ja", "--tgt-lang", "en"]
    assert_clean_error(run_cli("train-mt", "-w", ws, *ja_en, "--tokenizer", "word", "--name", "jaw"),
                       "a word tokenizer needs spaces between words, but a ja source", "unigram,word")  # fmt: skip
    assert_clean_error(run_cli("train-mt", "-w", ws, "--tokenizer", "word,chars", "--name", "jaw"),
                       "--tokenizer must be one of word, unigram, bpe, or two of them")  # fmt: skip
    assert not (tmp_path / "ws/models/jaw").exists()
    assert_clean_error(run_cli("train-mt", "-w", ws, "--attention", "dot", "--arch", "gru"), "--attention must be")


def test_training_data_with_empty_and_long_lines_is_filtered(tmp_path, sample):
    src, tgt = tmp_path / "t.en", tmp_path / "t.ja"
    en = (sample / "enja/train.en").read_text().splitlines()[:200]
    ja = (sample / "enja/train.ja").read_text().splitlines()[:200]
    en[3], ja[7] = "", ""
    en[10] = " ".join(["word"] * 300)
    src.write_text("\n".join(en) + "\n")
    tgt.write_text("\n".join(ja) + "\n")
    ws = Workspace(tmp_path / "ws")
    d = sample / "enja"
    train_mt(ws, "f", src, tgt, d / "dev.en", d / "dev.ja", "gru", SMALL_RNN,
             mt_train_config("gru", epochs=1, batch_tokens=2000), MTDataConfig(src_vocab=200, tgt_vocab=200, max_len=50))  # fmt: skip
    data = ws.model_dir("f").config()["data"]
    assert (data["skipped_empty"], data["skipped_too_long"], data["pairs"]) == (2, 1, 197)


def test_one_tokenizer_kind_per_side(tmp_path, sample):
    """ja -> en with subwords for the unsegmented-read Japanese source and whole words for English."""
    ws, d = Workspace(tmp_path / "ws"), sample / "enja"
    data = MTDataConfig(src_lang="ja", tgt_lang="en", tokenizer="unigram,word", src_vocab=300, tgt_vocab=5000)
    train_mt(ws, "jw", d / "train.ja", d / "train.en", d / "dev.ja", d / "dev.en", "gru", SMALL_RNN,
             mt_train_config("gru", epochs=1, batch_tokens=2000), data)  # fmt: skip
    toks = ws.model_dir("jw").config()["tokenizers"]
    assert (toks["src"]["kind"], toks["tgt"]["kind"]) == ("unigram", "word")
    tr = load_translator(ws, "jw", "cpu")
    english_words = set(tr.tgt_tok.tokens)
    assert {"i", "father", "."} <= english_words and tr.tgt_tok.vocab_size < 5000  # every training word, no pieces
    assert tr.src_tok.encode("私は泳げない。") == tr.src_tok.encode("私 は 泳げ な い 。")


def test_transformer_with_a_shallower_decoder(tmp_path, sample):
    """--decoder-layers (the fast-decoding student shape: deep encoder, shallow decoder) is stored and used."""
    w, d = str(tmp_path), sample / "enja"
    common = ["--src", str(d / "train.en"), "--tgt", str(d / "train.ja"), "--epochs", "1", "--threads", "1",
              "--src-vocab", "300", "--tgt-vocab", "300", "-w", w]  # fmt: skip
    out = run_cli("train-mt", *common, "--layers", "2", "--decoder-layers", "1", "--emb-dim", "32", "--ff-dim", "64",
                  "--heads", "2", "--name", "shallow")  # fmt: skip
    assert out.returncode == 0, out.stderr
    tr = load_translator(Workspace(tmp_path), "shallow", "cpu")
    assert (len(tr.model.encoder.blocks), len(tr.model.decoder.blocks)) == (2, 1)
    seen: list[int] = []  # progress is reported after every batch
    out3 = tr.translate(
        ["i can't swim .", "my father likes cats .", "hello ."], batch_sentences=2, progress=seen.append
    )
    assert seen == [2, 3] and len(out3) == 3
    assert run_cli("translate", "-m", "shallow", "-w", w, "i can't swim").returncode == 0
    err = run_cli("train-mt", *common, "--arch", "gru", "--decoder-layers", "1", "--name", "g")
    assert_clean_error(err, "--decoder-layers is not an option of --arch gru")
    assert not (tmp_path / "models" / "g").exists()
