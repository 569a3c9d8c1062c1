"""train-lm's default recipe per model: streams + SGD 20 + clipping + linear decay for recurrent causal LMs,
the Adam recipe for everything else; options given by the user win over either."""

from __future__ import annotations

import pytest

from seqtool.tasks.lm import ADAM_RECIPE, RNN_SGD_LR, STREAM_SGD_RECIPE, TRANSFORMER_SCHEDULE, lm_recipe


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_causal_lms_get_the_stream_sgd_recipe(cell: str) -> None:
    cfg = lm_recipe({"cell": cell}).train_cfg
    lr = RNN_SGD_LR if cell == "rnn" else 20.0
    assert (cfg.batching, cfg.optimizer, cfg.lr, cfg.clip_norm, cfg.schedule, cfg.warmup, cfg.bptt) == (
        "stream", "sgd", lr, 0.25, "linear", 0, 35)  # fmt: skip
    assert cfg.batch_tokens // cfg.bptt == 20  # the example's 20 streams


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_plain_rnn_starts_lower(activation: str) -> None:
    assert lm_recipe({"cell": "rnn", "activation": activation}).train_cfg.lr == RNN_SGD_LR < 20


@pytest.mark.parametrize("options", [{"cell": "transformer"}, {"cell": "wavenet"}, {"cell": "vae"},
                                     {"cell": "lstm", "context": 3}, {"cell": "gru", "optimizer": "adam"}])  # fmt: skip
def test_everything_else_gets_the_adam_recipe(options: dict) -> None:
    cfg = lm_recipe(options).train_cfg
    schedule = TRANSFORMER_SCHEDULE if options["cell"] == "transformer" else "plateau"
    assert cfg.optimizer == "adam" and cfg.lr == ADAM_RECIPE["lr"] and cfg.schedule == schedule
    assert cfg.batching == "sentences" and cfg.batch_tokens == ADAM_RECIPE["batch_tokens"]


def test_given_options_win_over_the_recipe() -> None:
    cfg = lm_recipe({"cell": "lstm", "lr": 5.0, "bptt": 20, "schedule": "cosine", "batch_size": 400}).train_cfg
    assert (cfg.optimizer, cfg.lr, cfg.bptt, cfg.schedule, cfg.batch_tokens) == ("sgd", 5.0, 20, "cosine", 400)
    assert cfg.clip_norm == STREAM_SGD_RECIPE["clip_norm"]
