"""Transformer regularization options: off means the old model (same weights, same outputs), on means
a training-time change only; old config.json files still load; options are checked."""

from __future__ import annotations

import pytest
import torch

from seqtool.data.batch import Batch
from seqtool.errors import SettingError
from seqtool.models.seq2seq import build_translator, translator_config
from tests.conftest import assert_clean_error, run_cli

OLD_CONFIG = dict(
    src_vocab=20,
    tgt_vocab=20,
    dim=16,
    heads=2,
    ff_dim=32,
    encoder_layers=2,
    decoder_layers=1,
    dropout=0.0,
    tie_embeddings=True,
)  # fmt: skip  (a config.json "model" section before the options)


def _batch() -> Batch:
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 20, (3, 7), generator=g)
    src[0, 5:] = 0
    tgt = torch.randint(4, 20, (3, 6), generator=g)
    return Batch(tgt_in=tgt, tgt_out=tgt, src=src, src_lengths=(src != 0).sum(1))


def _model(**extra):
    torch.manual_seed(0)
    return build_translator(translator_config("transformer", {**OLD_CONFIG, **extra}))


def test_old_config_loads_with_the_options_off():
    cfg = translator_config("transformer", OLD_CONFIG)
    assert (cfg.attention_dropout, cfg.activation_dropout, cfg.source_word_dropout) == (0.0, 0.0, 0.0)


def test_options_off_is_the_old_model_and_on_changes_training_only():
    old, new = _model(), _model(attention_dropout=0.3, activation_dropout=0.3, source_word_dropout=0.3)
    # Same parameter names and values (old weight files load into the new model and back).
    assert old.state_dict().keys() == new.state_dict().keys()
    for k, v in old.state_dict().items():
        assert torch.equal(v, new.state_dict()[k])
    batch = _batch()
    old.train()
    torch.manual_seed(5)
    a = old.features(batch)
    torch.manual_seed(6)
    b = old.features(batch)
    assert torch.equal(a, b)  # dropout 0 and the options off: training is deterministic, as before
    old.eval()
    assert torch.allclose(old.features(batch), a, atol=1e-6)
    new.train()
    torch.manual_seed(5)
    assert not torch.allclose(new.features(batch), a, atol=1e-3)  # the options act in training
    new.eval()
    assert torch.allclose(new.features(batch), a, atol=1e-6)  # and not in evaluation


@pytest.mark.parametrize("option", ["attention_dropout", "activation_dropout", "source_word_dropout"])
def test_each_option_alone_acts_in_training(option):
    model, batch = _model(**{option: 0.5}), _batch()
    model.eval()
    reference = model.features(batch)
    model.train()
    torch.manual_seed(3)
    assert not torch.allclose(model.features(batch), reference, atol=1e-3)


def test_rates_are_checked():
    # The library names the config key; train-mt renders it as the option (test_error_catalogue).
    with pytest.raises(SettingError, match="`attention_dropout` must be in"):
        translator_config("transformer", {**OLD_CONFIG, "attention_dropout": 1.0})
    with pytest.raises(SettingError, match="`source_word_dropout` must be in"):
        translator_config("transformer", {**OLD_CONFIG, "source_word_dropout": -0.1})


def test_cli_rejects_transformer_options_on_recurrent_models(tmp_path):
    r = run_cli("train-mt", "-w", str(tmp_path), "--arch", "gru", "--attention-dropout", "0.1")
    assert_clean_error(r, "--attention-dropout")
    r = run_cli("train-mt", "-w", str(tmp_path), "--schedule", "linear-ish")
    assert_clean_error(r, "--schedule")
