"""Dialogue: train HRED/VHRED, reply to a conversation, score replies.

Data: one utterance per line, a blank line between dialogues, optional ``A: `` / ``B: `` speaker
prefixes (stripped). Every utterance after a dialogue's first is a training reply, with the K
utterances before it as its context. Like the other tasks this module only wires parts together:
:class:`DialogTask` plugs the word tokenizer and :class:`~seqtool.models.hred.HRED` into the task
driver (:mod:`seqtool.tasks.driver`); replies go through :mod:`seqtool.decoding`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batch import Batch
from seqtool.data.batching import token_batches
from seqtool.data.corpus import check_file, read_lines
from seqtool.data.specials import BOS, EOS
from seqtool.data.tokenizers import Tokenizer, load_tokenizer, train_tokenizer
from seqtool.decoding import greedy, sample
from seqtool.errors import DataError, OptionError, settings_as_options
from seqtool.metrics import distinct_n, perplexity, word_count
from seqtool.models.base import SequenceModel
from seqtool.models.hred import HRED, DialogConfig
from seqtool.store.workspace import ModelDir, Workspace, config_section
from seqtool.tasks.driver import LoadedModel, Progress, Task, load_model, status, train_task
from seqtool.training.config import Objective, TrainConfig, TrainResult, describe
from seqtool.training.criterion import scored_tokens

SPEAKER = re.compile(r"^[AB]:\s*")
Example = tuple[list[str], str]  # (context utterances, oldest first; reply)


def dialog_train_config(**overrides: Any) -> TrainConfig:
    """Defaults of `seqtool train-dialog`: Adam, plateau schedule, small batches."""
    base = dict(lr=2e-3, schedule="plateau", plateau_factor=0.5, patience=3, batch_tokens=2048, clip_norm=1.0)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**base)


def read_dialogues(path: Path) -> list[list[str]]:
    """Blocks of non-empty lines separated by blank lines, speaker prefixes removed."""
    dialogues: list[list[str]] = [[]]
    for _, line in read_lines(path):
        text = SPEAKER.sub("", line.strip()).strip()
        if text:
            dialogues[-1].append(text)
        elif dialogues[-1]:
            dialogues.append([])
    dialogues = [d for d in dialogues if len(d) >= 2]
    if not dialogues:
        raise DataError(
            f"{path}: no dialogue of at least two utterances (one utterance per line, a blank line between "
            "dialogues); nothing to learn a reply from"
        )
    return dialogues


def examples(dialogues: list[list[str]], k: int) -> list[Example]:
    return [(d[max(0, i - k) : i], d[i]) for d in dialogues for i in range(1, len(d))]


def _context_tensor(contexts: list[list[list[int]]], k: int) -> torch.Tensor:
    """Utterance ids (B, K, S), a short history right-aligned (earlier slots empty)."""
    width = max(1, max((len(u) for c in contexts for u in c), default=1))
    out = np.zeros((len(contexts), k, width), dtype=np.int64)
    for b, ctx in enumerate(contexts):
        for j, utt in enumerate(ctx[-k:]):
            slot = k - len(ctx[-k:]) + j
            out[b, slot, : len(utt)] = utt
    return torch.from_numpy(out)


@dataclass
class EncodedDialogs:
    contexts: list[list[list[int]]]
    replies: list[list[int]]
    k: int

    def lengths(self) -> np.ndarray:
        return np.array([len(r) + 1 + sum(len(u) for u in c) for c, r in zip(self.contexts, self.replies, strict=True)])

    def batch(self, indices: np.ndarray) -> Batch:
        replies = [self.replies[i] for i in indices]
        width = max(len(r) for r in replies) + 1
        tgt_in, tgt_out = np.zeros((len(replies), width), np.int64), np.zeros((len(replies), width), np.int64)
        for b, r in enumerate(replies):
            tgt_in[b, : len(r) + 1], tgt_out[b, : len(r) + 1] = [BOS, *r], [*r, EOS]
        context = _context_tensor([self.contexts[i] for i in indices], self.k)
        return Batch(tgt_in=torch.from_numpy(tgt_in), tgt_out=torch.from_numpy(tgt_out), context=context)


def encode_examples(items: list[Example], tokenizer: Tokenizer, k: int) -> EncodedDialogs:
    contexts = [[tokenizer.encode(u) for u in ctx] for ctx, _ in items]
    return EncodedDialogs(contexts, tokenizer.encode_batch([r for _, r in items]), k)


@torch.no_grad()
def score_dialogs(model: HRED, tokenizer: Tokenizer, items: list[Example], device: torch.device) -> dict[str, float]:
    """Per-word perplexity of the reference replies (VHRED: the ELBO bound) and the mean KL."""
    model.eval()
    data = encode_examples(items, tokenizer, model.cfg.context)
    nll, kl, tokens = 0.0, 0.0, 0
    for idx in token_batches(data.lengths(), 4096, seed=0, epoch=0, shuffle=False):
        batch = data.batch(idx).to(device)
        _, gold, batch_nll = scored_tokens(model, batch)  # VHRED's KL included
        nll += batch_nll
        kl += model.auxiliary_metrics().get("kl", 0.0)
        tokens += len(gold)
    words = sum(word_count(tokenizer.prepare(r)) for _, r in items)
    scores = {"dev_loss": nll / max(1, tokens), "dev_ppl": perplexity(nll, words)}
    return {**scores, "dev_kl": kl / len(items)} if model.variational else scores


class DialogTask(Task):
    """Replies from their context (HRED/VHRED); the best epoch by the dev replies' perplexity."""

    kind = "dialog"
    objective = Objective("dev_ppl", False)
    sides = 0  # a reply with its context is no line of a file: encoded in memory

    def __init__(self, train_path: Path, dev_path: Path, model_cfg: DialogConfig, lang: str, vocab_size: int,
                 min_count: int) -> None:  # fmt: skip
        self.train_path, self.dev_path, self.model_cfg = train_path, dev_path, model_cfg
        self.lang, self.vocab_size, self.min_count = lang, vocab_size, min_count
        self.train_dialogs: list[list[str]] = []
        self.dev_dialogs: list[list[str]] = []
        self.dev_items: list[Example] = []
        self.tokenizer: Tokenizer | None = None

    def check(self) -> None:
        check_file(self.train_path)
        check_file(self.dev_path)
        with settings_as_options():
            self.model_cfg.validate()
        self.train_dialogs, self.dev_dialogs = read_dialogues(self.train_path), read_dialogues(self.dev_path)

    def setup(self, md: ModelDir, progress: Progress, threads: int) -> dict[str, Any]:
        utterances = (u for d in self.train_dialogs for u in d)
        self.tokenizer = train_tokenizer(utterances, "word", vocab_size=self.vocab_size, min_count=self.min_count,
                                         lang=self.lang)  # fmt: skip
        tok_entry = self.tokenizer.save(md.path, "tokenizer")
        self.model_cfg.vocab_size = self.tokenizer.vocab_size
        return {
            "arch": f"{self.model_cfg.arch}-{self.model_cfg.context}",
            "data": {"train": str(self.train_path), "dev": str(self.dev_path)}, "model": describe(self.model_cfg),
            "tokenizer": {**tok_entry, "lang": self.lang, "min_count": self.min_count},
        }  # fmt: skip

    def restore(self, md: ModelDir, cfg: dict[str, Any]) -> None:
        self.model_cfg = DialogConfig(**config_section(cfg, "model", md))
        self.tokenizer = load_tokenizer(md.path, config_section(cfg, "tokenizer", md))

    def encode(self, cache: Path, progress: Progress) -> tuple[EncodedDialogs, int]:
        assert self.tokenizer is not None
        k = self.model_cfg.context
        train_items = examples(self.train_dialogs, k)
        self.dev_items = examples(self.dev_dialogs, k)
        status(progress, f"{len(train_items)} training replies, {len(self.dev_items)} dev")
        return encode_examples(train_items, self.tokenizer, k), len(train_items)

    def data_entries(self, stats: int, progress: Progress) -> dict[str, Any]:
        return {"train_replies": stats, "train_dialogues": len(self.train_dialogs)}

    def build_model(self) -> HRED:
        return HRED(self.model_cfg)

    def lengths(self, corpus: EncodedDialogs) -> np.ndarray:
        return corpus.lengths()

    def make_batch(self, corpus: EncodedDialogs, indices: np.ndarray) -> Batch:
        return corpus.batch(indices)

    def evaluate(self, model: SequenceModel, device: torch.device) -> dict[str, float]:
        assert self.tokenizer is not None
        return score_dialogs(model, self.tokenizer, self.dev_items, device)  # type: ignore[arg-type]


def train_dialog(
    ws: Workspace,
    name: str,
    train_path: Path,
    dev_path: Path,
    model_cfg: DialogConfig,
    train_cfg: TrainConfig,
    *,
    lang: str = "en",
    vocab_size: int = 32000,
    min_count: int = 1,
    device: str = "auto",
    resume: bool = False,
    progress: Callable[[dict[str, Any]], None] = lambda _: None,
) -> TrainResult:
    """Train (or resume) the dialogue model ``name`` in ``ws`` (the task driver's recipe, :class:`DialogTask`)."""
    task = DialogTask(train_path, dev_path, model_cfg, lang, vocab_size, min_count)
    return train_task(task, ws, name, train_cfg, device=device, resume=resume, progress=progress)


LoadedDialog = LoadedModel


def load_dialog(ws: Workspace, name: str | None, device: str = "auto") -> LoadedDialog:
    hint = "train one with `seqtool train-dialog`"
    return load_model(ws, name, "dialog", hint, dialog_from_config, device)


def dialog_from_config(section: dict[str, Any]) -> HRED:
    """The untrained HRED/VHRED a config.json "model" section describes (the one place it is built)."""
    return HRED(DialogConfig(**section))


@torch.no_grad()
def respond(
    dm: LoadedDialog,
    history: list[str],
    num: int = 1,
    temperature: float = 0.0,
    seed: int | None = None,
    max_words: int = 40,
) -> list[str]:
    """``num`` replies to the conversation ``history`` (oldest first). Temperature 0 decodes greedily
    (VHRED still varies: each reply draws its own z from the prior); above 0 samples words."""
    history = [u.strip() for u in history if u.strip()]
    if not history:
        raise OptionError("give at least one utterance to reply to")
    if num <= 0 or temperature < 0:
        raise OptionError("--num must be > 0 and --temperature >= 0")
    # The seed fixes VHRED's prior draws without touching the caller's global RNG (fork_rng restores it).
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        return _respond(dm, history, num, temperature, seed, max_words)


def _respond(dm: LoadedDialog, history: list[str], num: int, temperature: float, seed: int | None,
             max_words: int) -> list[str]:  # fmt: skip
    k = dm.model.cfg.context
    ctx = _context_tensor([[dm.tokenizer.encode(u) for u in history[-k:]]] * num, k).to(dm.device)
    state = dm.model.start(ctx, None, num)
    if temperature == 0:
        ids = [h.ids for h in greedy(dm.model, ctx, None, max_words, state=state)]
    else:
        generator = torch.Generator(device=dm.device).manual_seed(seed if seed is not None else 0)
        empty = torch.zeros((num, 0), dtype=torch.long, device=dm.device)
        ids = sample(dm.model, empty, max_words, temperature, 0, generator, state=state)
    return [dm.tokenizer.decode(i) for i in ids]


def evaluate_dialog(
    dm: LoadedDialog, data: Path | None, samples: int = 5, temperature: float = 0.0, seed: int = 1
) -> dict[str, Any]:
    """Per-word perplexity of the reference replies; distinct-1/2 of ``samples`` replies per context
    (at most 200 contexts)."""
    path = data or Path(dm.config["data"]["dev"])
    items = examples(read_dialogues(path), dm.model.cfg.context)
    scores = score_dialogs(dm.model, dm.tokenizer, items, dm.device)
    replies = [r for i, (ctx, _) in enumerate(items[:200]) for r in respond(dm, ctx, samples, temperature, seed + i)]
    words = [dm.tokenizer.prepare(r).split() for r in replies]
    return {
        "model": dm.md.name, "data": str(path), "perplexity": scores["dev_ppl"], "replies": len(replies),
        "distinct1": distinct_n(words, 1), "distinct2": distinct_n(words, 2),
        **({"kl": scores["dev_kl"]} if "dev_kl" in scores else {}),
    }  # fmt: skip
