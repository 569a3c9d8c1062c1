"""Pre-LayerNorm Transformer blocks, and the encoder-decoder translator built from them.

Pre-LN (normalize before each sub-layer, add the residual after) trains stably without a long
warm-up, which matters for short CPU runs. The same :class:`TransformerBlock` serves the encoder
(self-attention only), the decoder (causal self-attention + cross-attention) and the decoder-only
language model in :mod:`seqtool.models.lm`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from seqtool.data.batch import Batch
from seqtool.data.specials import UNK
from seqtool.errors import SettingError
from seqtool.models.base import SequenceModel, State
from seqtool.models.layers import MultiHeadAttention, SinusoidalPositions


class TransformerBlock(nn.Module):
    def __init__(
        self,
        dim: int,
        heads: int,
        ff_dim: int,
        dropout: float,
        cross_attention: bool = False,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.self_norm = nn.LayerNorm(dim)
        # By default attention weights are not dropped out (fairseq's default), and there is no dropout
        # inside the feed-forward layer (fairseq's default too): on a CPU, drawing dropout masks is a
        # surprisingly large share of a step, and the ff_dim-wide mask is the largest one.
        self.self_attn = MultiHeadAttention(dim, heads, attention_dropout)
        self.cross_norm = nn.LayerNorm(dim) if cross_attention else None
        self.cross_attn = MultiHeadAttention(dim, heads, attention_dropout, cross=True) if cross_attention else None
        self.ff_norm = nn.LayerNorm(dim)
        # Weights keep the names ff.0 / ff.2 of earlier versions; activation dropout is applied in _ff.
        self.ff = nn.Sequential(nn.Linear(dim, ff_dim), nn.ReLU(), nn.Linear(ff_dim, dim))
        self.activation_dropout = nn.Dropout(activation_dropout) if activation_dropout > 0 else None
        self.dropout = nn.Dropout(dropout)

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation_dropout is None:
            return self.ff(x)
        return self.ff[2](self.activation_dropout(self.ff[1](self.ff[0](x))))

    def forward(
        self,
        x: torch.Tensor,
        *,
        self_mask: torch.Tensor | None = None,
        causal: bool = False,
        memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        h, new_cache = self.self_attn(self.self_norm(x), mask=self_mask, causal=causal, cache=cache)
        x = x + self.dropout(h)
        if self.cross_attn is not None:
            h, _ = self.cross_attn(self.cross_norm(x), mask=memory_mask, memory_kv=memory_kv)
            x = x + self.dropout(h)
        x = x + self.dropout(self._ff(self.ff_norm(x)))
        return x, new_cache


class TransformerStack(nn.Module):
    """Embedding (scaled by sqrt(d)) + sinusoidal positions + N blocks + final LayerNorm."""

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        layers: int,
        heads: int,
        ff_dim: int,
        dropout: float,
        cross_attention: bool,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)
        self.positions = SinusoidalPositions(dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, heads, ff_dim, dropout, cross_attention, attention_dropout, activation_dropout)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)

    def embed_tokens(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        x = self.embed(tokens) * math.sqrt(self.dim) + self.positions(tokens.shape[1], offset)
        return self.dropout(x)


@dataclass
class TransformerConfig:
    """Encoder-decoder Transformer (every key of its config.json "model" section). The defaults are
    the size of docs/benchmarks.md's Transformer runs: d 256, 4 heads, feed-forward 1024, 3 + 3 layers."""

    src_vocab: int = 8000
    tgt_vocab: int = 8000
    dim: int = 256
    heads: int = 4
    ff_dim: int = 1024
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1  # on embeddings and on every sub-layer's output (before the residual sum)
    tie_embeddings: bool = True  # target embedding shared with the output layer
    attention_dropout: float = 0.0  # on the attention weights (self- and cross-attention)
    activation_dropout: float = 0.0  # inside the feed-forward layer, after the ReLU
    source_word_dropout: float = 0.0  # training only: each source token becomes <unk> with this probability

    sizes: ClassVar[tuple[str, ...]] = ("dim", "heads", "ff_dim", "encoder_layers", "decoder_layers")  # must be > 0
    exportable: ClassVar[bool] = True  # CTranslate2 runs it (seqtool export)
    recipe: ClassVar[str] = "transformer"  # its default training recipe (seqtool.tasks.mt.MT_RECIPES)
    follows: ClassVar[dict[str, str]] = {"decoder_layers": "encoder_layers"}  # --layers sets both sides

    def validate(self) -> None:
        if self.dim % max(1, self.heads):
            raise SettingError(f"`dim` {self.dim} must be divisible by `heads` {self.heads}")

    def build(self) -> TransformerTranslator:
        return TransformerTranslator(self)

    def describe(self) -> str:
        """config.json "arch": transformer-3+3-d256."""
        return f"transformer-{self.encoder_layers}+{self.decoder_layers}-d{self.dim}"


class TransformerTranslator(SequenceModel):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        extra = (cfg.attention_dropout, cfg.activation_dropout)
        self.encoder = TransformerStack(
            cfg.src_vocab, cfg.dim, cfg.encoder_layers, cfg.heads, cfg.ff_dim, cfg.dropout, False, *extra
        )
        self.decoder = TransformerStack(
            cfg.tgt_vocab, cfg.dim, cfg.decoder_layers, cfg.heads, cfg.ff_dim, cfg.dropout, True, *extra
        )
        self.output = nn.Linear(cfg.dim, cfg.tgt_vocab, bias=False)
        if cfg.tie_embeddings:
            self.output.weight = self.decoder.embed.weight
        layers = range(cfg.decoder_layers)
        self.source_state = frozenset({"mask", *(f"mk{i}" for i in layers), *(f"mv{i}" for i in layers)})

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> memory (B, S, D) and the "may attend" mask (B, 1, 1, S) over real source tokens."""
        mask = (src != 0)[:, None, None, :]
        if self.training and self.cfg.source_word_dropout > 0:
            # Word dropout (Sennrich & Zhang 2019): whole source tokens replaced by <unk>; the mask is kept.
            dropped = torch.rand(src.shape, device=src.device) < self.cfg.source_word_dropout
            src = src.masked_fill(dropped & (src != 0), UNK)
        x = self.encoder.embed_tokens(src)
        for block in self.encoder.blocks:
            x, _ = block(x, self_mask=mask)
        return self.encoder.norm(x), mask

    def features(self, batch: Batch) -> torch.Tensor:
        memory, mask = self.encode(batch.src)
        x = self.decoder.embed_tokens(batch.tgt_in)
        for block in self.decoder.blocks:
            x, _ = block(x, causal=True, memory_kv=block.cross_attn.project_memory(memory), memory_mask=mask)
        return self.decoder.norm(x)

    # --- incremental decoding: state = source mask, per-layer memory keys/values and self-attention caches
    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        memory, mask = self.encode(src)
        state: State = {"mask": mask, "pos": torch.zeros(src.shape[0], dtype=torch.long, device=src.device)}
        for i, block in enumerate(self.decoder.blocks):
            state[f"mk{i}"], state[f"mv{i}"] = block.cross_attn.project_memory(memory)
        return state

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        offset = int(state["pos"][0])
        x = self.decoder.embed_tokens(tokens[:, None], offset)
        new: State = {"mask": state["mask"], "pos": state["pos"] + 1}
        for i, block in enumerate(self.decoder.blocks):
            cache = (state[f"k{i}"], state[f"v{i}"]) if offset > 0 else None
            x, (k, v) = block(x, memory_kv=(state[f"mk{i}"], state[f"mv{i}"]), memory_mask=state["mask"], cache=cache)
            new[f"k{i}"], new[f"v{i}"], new[f"mk{i}"], new[f"mv{i}"] = k, v, state[f"mk{i}"], state[f"mv{i}"]
        logits = self.logits(self.decoder.norm(x[:, 0]))
        return logits, new
