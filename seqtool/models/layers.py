"""Building blocks shared by every model: positions and three kinds of attention."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn


def _cpu_math_kernel() -> contextlib.AbstractContextManager:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.MATH)


class SinusoidalPositions(nn.Module):
    """Fixed sine/cosine position encodings (Vaswani et al. 2017): no parameters, any length."""

    def __init__(self, dim: int, max_len: int = 1024) -> None:
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        table = torch.zeros(max_len, dim)
        table[:, 0::2] = torch.sin(position * div)
        table[:, 1::2] = torch.cos(position * div)
        self.register_buffer("table", table, persistent=False)

    def forward(self, length: int, offset: int = 0) -> torch.Tensor:
        if offset + length > self.table.shape[0]:
            self.table = SinusoidalPositions(self.table.shape[1], 2 * (offset + length)).table.to(self.table.device)
        return self.table[offset : offset + length]


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score(q, k) = v . tanh(W q + U k).

    ``U k`` does not depend on the decoder step, so :meth:`precompute` does it once per source
    and decoding only pays for ``W q`` at each step.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_dim, attn_dim, bias=False)
        self.key = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def precompute(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key(keys)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, projected: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, Tq, Dq), keys (B, S, Dk), mask (B, S) -> context (B, Tq, Dk), weights (B, Tq, S)."""
        scores = self.v(torch.tanh(self.query(query).unsqueeze(2) + projected.unsqueeze(1))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), dim=-1)
        return weights @ keys, weights


class MultiplicativeAttention(nn.Module):
    """Luong "general" attention: score(q, k) = q . W k (one matrix product for all steps)."""

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__()
        self.key = nn.Linear(key_dim, query_dim, bias=False)

    def precompute(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key(keys)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, projected: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = query @ projected.transpose(1, 2)
        weights = torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), dim=-1)
        return weights @ keys, weights


def make_attention(kind: str, query_dim: int, key_dim: int) -> nn.Module | None:
    if kind == "none":
        return None
    if kind == "bahdanau":
        return AdditiveAttention(query_dim, key_dim, query_dim)
    if kind == "luong":
        return MultiplicativeAttention(query_dim, key_dim)
    raise ValueError(f"unknown attention {kind!r}")


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention on top of ``F.scaled_dot_product_attention``.

    Self-attention projects q, k, v with one fused matrix. In incremental decoding the keys and
    values of earlier positions are kept in ``cache`` (batch-first tensors), so each new token
    costs O(T) instead of recomputing the whole prefix.
    """

    def __init__(self, dim: int, heads: int, dropout: float, cross: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model dimension {dim} is not divisible by {heads} heads")
        self.heads, self.head_dim, self.dropout, self.cross = heads, dim // heads, dropout, cross
        if cross:
            self.q_proj = nn.Linear(dim, dim)
            self.kv_proj = nn.Linear(dim, 2 * dim)
        else:
            self.qkv_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)

    def project_memory(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the encoder output, computed once per source sentence."""
        k, v = self.kv_proj(memory).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(
        self,
        x: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """x (B, T, D). ``mask`` is a boolean (B, 1, 1|T, S) "may attend" mask. Returns (output, new cache)."""
        if self.cross:
            q = self._split(self.q_proj(x))
            k, v = memory_kv if memory_kv is not None else (None, None)
            new_cache = None
        else:
            q, k, v = (self._split(t) for t in self.qkv_proj(x).chunk(3, dim=-1))
            if cache is not None:
                k = torch.cat([cache[0], k], dim=2)
                v = torch.cat([cache[1], v], dim=2)
            new_cache = (k, v)
        # With a cache, the new query may see every cached position: no causal mask is needed.
        is_causal = causal and cache is None and mask is None and q.shape[2] > 1
        # Sentences are short (tens of tokens): on a CPU the plain "math" kernel (two batched matrix
        # products and a softmax) is faster than the flash kernel, whose backward pass is tuned for long
        # sequences (measured in docs/benchmarks.md). GPUs keep the default choice.
        with _cpu_math_kernel() if q.device.type == "cpu" else contextlib.nullcontext():
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=is_causal
            )
        b, h, t, dh = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, t, h * dh)), new_cache
