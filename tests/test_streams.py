"""Stream batching (truncated BPTT): windows cover the corpus in order with <eos> between sentences,
the recurrent state is carried across windows (and learned from), resume mid-epoch continues exactly."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from seqtool.data.batching import EncodedCorpus
from seqtool.data.specials import BOS, EOS
from seqtool.data.streams import StreamBatches, stream_layout, window_spans
from seqtool.errors import TrainingInterrupted
from seqtool.models.lm import build_lm, lm_config
from seqtool.store.workspace import Workspace
from seqtool.training.config import Objective, TrainConfig
from seqtool.training.trainer import Trainer
from tests.conftest import run_cli


def corpus_of(sentences: list[list[int]]) -> EncodedCorpus:
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in sentences])
    return EncodedCorpus(np.concatenate([np.asarray(s, dtype=np.int32) for s in sentences]), offsets)


def test_windows_cover_the_stream_in_order_with_eos_between_sentences():
    rng = np.random.default_rng(0)
    sentences = [list(rng.integers(4, 50, rng.integers(1, 9))) for _ in range(40)]
    corpus, rows, bptt = corpus_of(sentences), 3, 5
    streams = StreamBatches(corpus, rows, bptt, seed=7)
    layout = streams.layout(2)
    assert sorted(layout.order) == list(range(40))  # every sentence once, in this epoch's order
    full = np.concatenate([[EOS], *[np.r_[sentences[i], EOS] for i in layout.order]])
    R = layout.row_length
    assert len(full) // rows == R
    batches = [streams.batch(w) for w in streams.windows(2)]
    assert [b.carry for b in batches] == [False] + [True] * (len(batches) - 1)  # reset at epoch start
    assert all(b.stream for b in batches)
    inputs = torch.cat([b.tgt_in for b in batches], dim=1).numpy()
    targets = torch.cat([b.tgt_out for b in batches], dim=1).numpy()
    for r in range(rows):
        row = full[r * R : (r + 1) * R]
        np.testing.assert_array_equal(targets[r], row[1:])  # the stream, in order, <eos> after every sentence
        np.testing.assert_array_equal(inputs[r], np.where(row[:-1] == EOS, BOS, row[:-1]))  # read as <bos>
    assert (inputs != EOS).all()


def test_windows_are_a_pure_function_of_seed_and_epoch():
    corpus = corpus_of([[5, 6, 7]] * 10 + [[8, 9]] * 10)
    a, b = StreamBatches(corpus, 2, 4, seed=3), StreamBatches(corpus, 2, 4, seed=3)
    b.layout(5)  # another epoch cached first: no effect
    for w, v in zip(a.windows(1), b.windows(1), strict=True):
        assert torch.equal(a.batch(w).tgt_out, b.batch(v).tgt_out)
    assert not np.array_equal(stream_layout(corpus, 2, 3, 1).order, stream_layout(corpus, 2, 3, 2).order)
    # AWD-LSTM's variable lengths: contiguous, varying, reproducible
    spans = window_spans(2000, 35, seed=1, epoch=0, jitter=True)
    assert spans == window_spans(2000, 35, seed=1, epoch=0, jitter=True)
    assert all(s + n == t for (s, n), (t, _) in zip(spans, spans[1:], strict=False)) and sum(spans[-1]) == 1999
    assert len({n for _, n in spans}) > 5 and all(n >= 5 for _, n in spans[:-1])
    # under torchrun each rank reads its own streams
    assert list(StreamBatches(corpus, 5, 4, 1, rank=1, world_size=2).my_rows) == [1, 3]


def copy_corpus(n: int = 1500) -> list[list[int]]:
    """Sentences `a f f a`: the last word copies the first (a in 4..7, f = 8)."""
    rng = np.random.default_rng(1)
    return [[int(a), 8, 8, int(a)] for a in rng.integers(4, 8, n)]


def _trainer(tmp_path, name, streams: StreamBatches, reset: bool, epochs: int, progress=lambda e: None) -> Trainer:
    torch.manual_seed(0)
    md = Workspace(tmp_path).model_dir(name)
    md.path.mkdir(parents=True, exist_ok=True)
    model = build_lm(lm_config(vocab_size=10, cell="lstm", layers=1, emb_dim=16, hidden=32, dropout=0.0))

    def make(window):
        batch = streams.batch(window)
        batch.carry = batch.carry and not reset
        return batch

    cfg = TrainConfig(epochs=epochs, lr=1e-2, schedule="constant", precision="fp32", patience=100, clip_norm=1.0)
    return Trainer(model, cfg, md, epoch_batches=streams.windows, make_batch=make, evaluate=lambda m: {"x": 0.0},
                   objective=Objective("x", False), device=torch.device("cpu"), progress=progress,
                   shard_batches=False)  # fmt: skip


@torch.no_grad()
def cross_window_copy_accuracy(model, streams: StreamBatches, reset: bool) -> float:
    """Accuracy on the copied words whose source word lies in the previous window."""
    model.eval()
    layout, hits, total = streams.layout(0), 0, 0
    for window in streams.windows(0):
        epoch, start, length = (int(v) for v in window)
        batch = streams.batch(window)
        batch.carry = batch.carry and not reset
        predicted = model.logits(model.features(batch)).argmax(-1).numpy()
        cols = np.arange(start + 1, start + length + 1)
        positions = streams.my_rows[:, None] * layout.row_length + cols[None, :]
        j = np.searchsorted(layout.starts, positions, side="right") - 1
        copy = (j >= 0) & (positions - layout.starts[np.maximum(j, 0)] == 3) & (cols[None, :] - 3 < start)
        hits += int((predicted[copy] == batch.tgt_out.numpy()[copy]).sum())
        total += int(copy.sum())
    assert total > 100
    return hits / total


def test_carried_state_is_what_learns_a_dependency_across_windows(tmp_path):
    torch.set_num_threads(1)
    streams = StreamBatches(corpus_of(copy_corpus()), rows=8, bptt=4, seed=1)
    accuracy = {}
    for reset in (False, True):
        trainer = _trainer(tmp_path, f"r{reset}", streams, reset, epochs=3)
        trainer.fit()
        accuracy[reset] = cross_window_copy_accuracy(trainer.model, streams, reset)
    assert accuracy[False] > 0.9  # the state carried from the previous window holds the word
    assert accuracy[True] < 0.5  # a fresh state per window can only guess (4 choices)


def test_resume_mid_epoch_continues_the_same_streams(tmp_path):
    torch.set_num_threads(1)
    streams = StreamBatches(corpus_of(copy_corpus(300)), rows=4, bptt=5, seed=2, jitter=True)
    whole = _trainer(tmp_path, "whole", streams, False, epochs=2)
    whole.fit()
    steps = {"n": 0}

    def interrupt(event):
        if event["event"] == "step":
            steps["n"] += 1
            if steps["n"] == 23:  # mid-epoch 1 (an epoch has about 15 windows)
                os.kill(os.getpid(), signal.SIGINT)

    cut = _trainer(tmp_path, "cut", StreamBatches(corpus_of(copy_corpus(300)), 4, 5, 2, jitter=True), False, 2,
                   interrupt)  # fmt: skip
    with pytest.raises(TrainingInterrupted):
        cut.fit()
    assert cut.batch_in_epoch > 0 and cut.model.carried is not None
    resumed = _trainer(tmp_path, "cut", StreamBatches(corpus_of(copy_corpus(300)), 4, 5, 2, jitter=True), False, 2)
    resumed.load_checkpoint()
    for k, v in cut.model.carried.items():  # the carried state is restored from the checkpoint
        assert torch.equal(resumed.model.carried[k], v)
    resumed.fit(resume=True)
    assert resumed.step == whole.step
    for k, v in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=1e-5, atol=1e-6)


def test_cli_stream_training_then_predict_next_and_generate(tmp_path, sample):
    ws = str(tmp_path / "ws")
    r = run_cli("train-lm", "-w", ws, "--cell", "gru", "--layers", "1", "--emb-dim", "32", "--hidden", "32",
                "--epochs", "2", "--batching", "stream", "--bptt", "20", "--batch-size", "200",
                "--schedule", "linear", "--name", "s")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_cli("predict-next", "-w", ws, "--model", "s", "i can", "--json")
    assert r.returncode == 0 and '"results"' in r.stdout, r.stderr
    r = run_cli("generate", "-w", ws, "--model", "s", "--prompt", "my father", "--seed", "1")
    assert r.returncode == 0 and r.stdout.startswith("my father"), r.stderr
    r = run_cli("train-lm", "-w", ws, "--cell", "transformer", "--batching", "stream", "--name", "t")
    assert r.returncode == 2 and "--batching stream needs a recurrent" in r.stderr
