"""The output layer and its label-smoothed cross-entropy, a chunk of rows at a time.

Why: the vocabulary projection makes the largest tensors of a training step. For a 4,096-token batch and
an 8k vocabulary, autograd keeps the logits (bf16), their fp32 copy and the log-softmax alive until the
backward pass, which adds a gradient of the same size: about half a gigabyte, every step, in blocks of a
different size each step (batches vary in length), which is also what fragments the C heap.

:class:`LinearCrossEntropy` computes the loss *and its gradients* in the forward pass, ``chunk_rows``
positions at a time, and keeps only the gradients with respect to the features (N x D) and the weight
(V x D): the logits of one chunk are the only vocabulary-sized tensors alive at once. The backward pass
just scales those by the incoming gradient (the loss is a scalar). The arithmetic is what autograd would
do (the same three matrix products, bf16 under autocast), so there is no recomputation; the idea is the
"fused linear cross-entropy" of e.g. Liger-Kernel, written here for the CPU in plain torch.

Gradient of the label-smoothed loss with respect to the logits of one row, smoothing eps over V classes
(PyTorch's definition: (1 - eps) * NLL + eps * mean over classes of -log p):
``softmax(z) - (1 - eps) * onehot(target) - eps / V``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

# Rows per chunk: 1,024 x 8k fp32 logits are 32 MB. Large enough that the matrix products stay efficient.
CHUNK_ROWS = 1024


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype ``F.linear`` would compute in here: autocast's when it is on, else the input's."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


def _chunk_loss(logits: torch.Tensor, target: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed label-smoothed loss of fp32 ``logits`` (n, V), and their log-softmax."""
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp.gather(1, target[:, None]).sum()
    if eps == 0.0:
        return nll, logp
    return (1.0 - eps) * nll - (eps / logits.shape[-1]) * logp.sum(), logp


class LinearCrossEntropy(torch.autograd.Function):
    """``F.cross_entropy(F.linear(x, weight, bias), target, label_smoothing=eps, reduction="sum")``."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        target: torch.Tensor,
        eps: float,
        chunk_rows: int,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        w = weight.to(dtype)
        grad_x = torch.empty(x.shape, dtype=dtype, device=x.device)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=x.device)
        grad_b = None if bias is None else torch.zeros(bias.shape, dtype=torch.float32, device=x.device)
        total = torch.zeros((), dtype=torch.float32, device=x.device)
        vocab = weight.shape[0]
        for start in range(0, x.shape[0], chunk_rows):
            x_c, t_c = x[start : start + chunk_rows].to(dtype), target[start : start + chunk_rows]
            logits = x_c @ w.t()
            if bias is not None:
                logits = logits + bias.to(dtype)
            loss, logp = _chunk_loss(logits.float(), t_c, eps)
            total += loss
            # d loss / d logits, in place over the log-softmax: softmax - (1 - eps) onehot - eps / V
            grad = logp.exp_()
            if eps:
                grad.sub_(eps / vocab)
            grad.scatter_add_(1, t_c[:, None], torch.full((t_c.shape[0], 1), eps - 1.0, device=x.device))
            grad = grad.to(dtype)
            grad_x[start : start + chunk_rows] = grad @ w
            grad_w += (grad.t() @ x_c).float()
            if grad_b is not None:
                grad_b += grad.float().sum(0)
        ctx.save_for_backward(grad_x, grad_w, *(() if grad_b is None else (grad_b,)))
        ctx.x_dtype, ctx.w_dtype = x.dtype, weight.dtype
        return total

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        grad_x, grad_w, *rest = ctx.saved_tensors
        grad_b = (rest[0] * grad_out).to(ctx.w_dtype) if rest else None
        return (grad_x * grad_out).to(ctx.x_dtype), (grad_w * grad_out).to(ctx.w_dtype), grad_b, None, None, None, None


def linear_cross_entropy(
    x: torch.Tensor,
    output: torch.nn.Linear,
    target: torch.Tensor,
    label_smoothing: float = 0.0,
    chunk_rows: int = CHUNK_ROWS,
) -> torch.Tensor:
    """Summed label-smoothed cross-entropy of ``output(x)`` (x: (N, D), target: (N,)), in chunks.

    With gradients wanted it goes through :class:`LinearCrossEntropy`; without (evaluation) it just
    sums the chunks' losses."""
    if torch.is_grad_enabled() and (x.requires_grad or output.weight.requires_grad):
        dtype = _compute_dtype(x)
        return LinearCrossEntropy.apply(x, output.weight, output.bias, target, label_smoothing, chunk_rows, dtype)
    total = torch.zeros((), dtype=torch.float32, device=x.device)
    for start in range(0, x.shape[0], chunk_rows):
        logits = F.linear(x[start : start + chunk_rows], output.weight, output.bias).float()
        total += _chunk_loss(logits, target[start : start + chunk_rows], label_smoothing)[0]
    return total
