"""seqtool.training.output_loss: the chunked loss is the plain one, value and gradients, and it trains."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqtool.data.batch import Batch
from seqtool.models.transformer import TransformerConfig, TransformerTranslator
from seqtool.training.output_loss import linear_cross_entropy
from seqtool.training.trainer import masked_loss


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_matches_plain_autograd_fp32(bias: bool, smoothing: float) -> None:
    torch.manual_seed(0)
    output = torch.nn.Linear(16, 50, bias=bias)
    x = torch.randn(37, 16, requires_grad=True)
    target = torch.randint(0, 50, (37,))
    params = (x, *output.parameters())
    plain = F.cross_entropy(output(x), target, reduction="sum", label_smoothing=smoothing)
    plain_grads = torch.autograd.grad(0.5 * plain, params)
    chunked = linear_cross_entropy(x, output, target, smoothing, chunk_rows=10)  # 4 chunks, the last short
    chunked_grads = torch.autograd.grad(0.5 * chunked, params)
    assert torch.allclose(chunked, plain, rtol=1e-5)
    for got, want in zip(chunked_grads, plain_grads, strict=True):
        assert got.dtype == want.dtype and torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    with torch.no_grad():  # evaluation: the loss alone
        assert torch.allclose(linear_cross_entropy(x, output, target, smoothing, chunk_rows=10), plain, rtol=1e-5)


def test_bf16_autocast_close_to_plain() -> None:
    torch.manual_seed(1)
    output = torch.nn.Linear(32, 200, bias=False)
    x = torch.randn(300, 32, requires_grad=True)
    target = torch.randint(0, 200, (300,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = F.cross_entropy(output(x).float(), target, reduction="sum", label_smoothing=0.1)
        chunked = linear_cross_entropy(x, output, target, 0.1, chunk_rows=128)
    (gx, gw), (hx, hw) = (
        torch.autograd.grad(plain, (x, output.weight)),
        torch.autograd.grad(chunked, (x, output.weight)),
    )
    assert abs(chunked.item() - plain.item()) < 1e-3 * plain.item()
    assert (hx - gx).norm() < 0.02 * gx.norm() and (hw - gw).norm() < 0.02 * gw.norm()


def test_tied_transformer_uses_it_and_learns() -> None:
    """The default translator's loss goes through the chunked path (tied output weight) and a copy task
    is learnt with it."""
    torch.manual_seed(0)
    cfg = TransformerConfig(
        src_vocab=12, tgt_vocab=12, dim=32, heads=2, ff_dim=64, encoder_layers=1, decoder_layers=1, dropout=0.0
    )
    model = TransformerTranslator(cfg)
    src = torch.randint(4, 12, (16, 5))
    bos = torch.full((16, 1), 2)
    eos = torch.full((16, 1), 3)
    batch = Batch(
        src=src, src_lengths=torch.full((16,), 5), tgt_in=torch.cat([bos, src], 1), tgt_out=torch.cat([src, eos], 1)
    )
    calls = []
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss, n = masked_loss(model, batch, label_smoothing=0.0, chunk_rows=32)  # 96 positions: 3 chunks
        first = first if first is not None else loss.item() / n
        optimizer.zero_grad()
        (loss / n).backward()
        optimizer.step()
        calls.append("LinearCrossEntropy" in type(loss.grad_fn).__name__)
    assert all(calls), "the chunked loss was not used"
    assert loss.item() / n < 0.1 * first, (first, loss.item() / n)


@pytest.mark.parametrize(("hidden", "tie"), [(24, True), (16, True), (16, False)])
def test_recurrent_lm_output_goes_through_it_tied_or_not(hidden: int, tie: bool) -> None:
    """The LSTM LM's output module (tied to the embedding, with a projection when the state is wider) takes
    the chunked path too, with the loss and every gradient of the one-piece loss."""
    from seqtool.models.lm import RecurrentLMConfig

    torch.manual_seed(0)
    model = RecurrentLMConfig(vocab_size=40, layers=1, emb_dim=16, hidden=hidden, dropout=0.0, tie_weights=tie).build()
    tokens = torch.randint(4, 40, (6, 9))
    tgt_out = tokens.clone()
    tgt_out[0, 6:] = 0  # padding is left out of both
    batch = Batch(src=None, src_lengths=None, tgt_in=tokens, tgt_out=tgt_out)
    params = [p for p in model.parameters() if p.requires_grad]
    chunked, n = masked_loss(model, batch, label_smoothing=0.1, chunk_rows=7)
    assert "LinearCrossEntropy" in type(chunked.grad_fn).__name__
    plain, m = masked_loss(model, batch, label_smoothing=0.1, chunk_rows=0)
    assert "LinearCrossEntropy" not in type(plain.grad_fn).__name__ and n == m == 51
    assert torch.allclose(chunked, plain, rtol=1e-5)
    for got, want in zip(torch.autograd.grad(chunked, params), torch.autograd.grad(plain, params), strict=True):
        assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_a_batch_within_one_chunk_takes_the_plain_path() -> None:
    """Nothing to split, nothing saved: the one-piece loss (the custom function only costs time there)."""
    from seqtool.models.lm import RecurrentLMConfig

    model = RecurrentLMConfig(vocab_size=40, layers=1, emb_dim=16, hidden=16, dropout=0.0).build()
    tokens = torch.randint(4, 40, (4, 5))
    batch = Batch(src=None, src_lengths=None, tgt_in=tokens, tgt_out=tokens)
    within, n = masked_loss(model, batch, chunk_rows=20)
    split, _ = masked_loss(model, batch, chunk_rows=19)
    assert n == 20 and "LinearCrossEntropy" not in type(within.grad_fn).__name__
    assert "LinearCrossEntropy" in type(split.grad_fn).__name__ and torch.allclose(within, split, rtol=1e-5)
