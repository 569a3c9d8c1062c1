"""The one decoding module: greedy search, batched beam search and sampling, for every model, and the
registry of search strategies (:func:`register_strategy`) that translators look up by name.

All three drive a model only through ``start`` (the state after the source) and ``step_logits``
(next-token scores for one token per row; ``step`` is its log-softmax), see
:class:`~seqtool.models.base.SequenceModel`, so RNNs, attention models, Transformers (with their
key/value caches) and WaveNets (with their convolution queues) decode through the same code.
Greedy and beam search normalize the scores themselves in fp32; beam search keeps ``batch x beam``
hypotheses in one tensor and never copies the state entries a model lists in ``source_state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from seqtool.data.search import Hypothesis, SearchOptions, gnmt_penalty, output_length_cap
from seqtool.data.specials import BOS, EOS, PAD
from seqtool.errors import OptionError
from seqtool.models.base import SequenceModel, State, reorder_state


def output_caps(
    src_lengths: torch.Tensor | None, batch: int, max_len: int | None, device: torch.device
) -> torch.Tensor:
    """Each row's own output-length cap: from its own source length (not the batch's longest), so that a
    sentence decodes the same alone or batched with longer ones (the server's micro-batches rely on it)."""
    if max_len is not None or src_lengths is None:
        return torch.full((batch,), max_len or output_length_cap(None), dtype=torch.long, device=device)
    return torch.tensor([output_length_cap(int(n)) for n in src_lengths.tolist()], dtype=torch.long, device=device)


def feed_prompt(model: SequenceModel, state: State, prompt: torch.Tensor) -> tuple[torch.Tensor, State]:
    """Run the model over ``<bos>`` + a (B, P) prompt; return the next-token log-probs and the state."""
    logp, state = model.step(torch.full((prompt.shape[0],), BOS, dtype=torch.long, device=prompt.device), state)
    for t in range(prompt.shape[1]):
        logp, state = model.step(prompt[:, t], state)
    return logp, state


@torch.no_grad()
def greedy(
    model: SequenceModel,
    src: torch.Tensor | None,
    src_lengths: torch.Tensor | None,
    max_len: int | None = None,
    state: State | None = None,
) -> list[Hypothesis]:
    """The most probable token at each step, for every sentence of the batch (or every row of a
    ready-made decoding ``state``, e.g. a latent chosen by the caller)."""
    if state is None:
        state = model.start(src, src_lengths, src.shape[0])
    ref = next(iter(state.values()))
    batch, device = ref.shape[0], ref.device
    caps = output_caps(src_lengths, batch, max_len, device)
    tokens = torch.full((batch,), BOS, dtype=torch.long, device=device)
    outputs, scores = [], torch.zeros(batch, device=device)
    attention: list[torch.Tensor] = []
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    for step in range(1, int(caps.max()) + 1):
        logits, state = model.step_logits(tokens, state)
        best, tokens = logits.max(dim=-1)
        tokens = tokens.masked_fill(done, PAD)
        scores += (best.float() - torch.logsumexp(logits.float(), dim=-1)).masked_fill(done, 0.0)
        outputs.append(tokens)
        if "attn" in state:
            attention.append(state["attn"])
        done |= (tokens == EOS) | (caps <= step)
        if bool(done.all()):
            break
    ids = torch.stack(outputs, dim=1).tolist()
    attn = torch.stack(attention, dim=1) if attention else None
    return [
        _hypothesis(ids[b], float(scores[b]), attn[b] if attn is not None else None, src_lengths, b)
        for b in range(batch)
    ]


def _strip(ids: list[int]) -> list[int]:
    out = []
    for i in ids:
        if i == EOS:
            break
        if i != PAD:
            out.append(i)
    return out


def _hypothesis(
    ids: list[int], score: float, attn: torch.Tensor | None, src_lengths: torch.Tensor | None, b: int
) -> Hypothesis:
    clean = _strip(ids)
    weights = None
    if attn is not None and src_lengths is not None:
        weights = attn[: len(clean) + 1, : int(src_lengths[b])].float().tolist()
    return Hypothesis(clean, score, weights)


def pad_continuation(k: int, device: torch.device) -> torch.Tensor:
    """Scores of the k continuations of a finished hypothesis: PAD at no cost, nothing else."""
    row = torch.full((k,), float("-inf"), device=device)
    row[0] = 0.0
    return row


def length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """The GNMT length penalty of each length (:func:`seqtool.data.search.gnmt_penalty`, the one definition)."""
    return gnmt_penalty(length.float(), alpha)  # type: ignore[arg-type]


@torch.no_grad()
def beam_search(
    model: SequenceModel,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    beam: int = 5,
    alpha: float = 1.0,
    nbest: int = 1,
    max_len: int | None = None,
) -> list[list[Hypothesis]]:
    """Batched beam search; returns the ``nbest`` best hypotheses of each source sentence.

    Finished hypotheses stay in the beam and are extended with padding at no cost, so the
    ``batch x beam`` tensors keep their shape; the search stops when every beam has finished.
    """
    if beam == 1 and nbest == 1:
        return [[h] for h in greedy(model, src, src_lengths, max_len)]
    batch, device = src.shape[0], src.device
    state = model.start(src, src_lengths, batch)
    expand = torch.arange(batch, device=device).repeat_interleave(beam)
    # A sentence past its own cap is frozen: its hypotheses continue with padding at no cost, exactly as
    # if its search had ended there, while longer sentences of the batch go on.
    caps = output_caps(src_lengths, batch, max_len, device)[expand]
    frozen = torch.zeros(batch * beam, dtype=torch.bool, device=device)
    state = reorder_state(state, expand)
    src_lengths_k = src_lengths[expand.cpu()]
    tokens = torch.full((batch * beam,), BOS, dtype=torch.long, device=device)
    scores = torch.full((batch, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep only one alive at first
    history = torch.zeros(batch * beam, 0, dtype=torch.long, device=device)
    attn_history: torch.Tensor | None = None
    finished = torch.zeros(batch * beam, dtype=torch.bool, device=device)
    lengths = torch.zeros(batch * beam, dtype=torch.long, device=device)
    offsets = torch.arange(batch, device=device)[:, None] * beam
    for step in range(1, int(caps.max()) + 1):
        logits, state = model.step_logits(tokens, state)
        # Only the `beam` best tokens of a hypothesis can enter the next beam, so each row keeps
        # those before anything else: the masking, normalizing and batch-wide top-k below touch
        # (N, k) numbers instead of (N, V), passes that cost as much as the output layer itself.
        k = min(beam, logits.shape[-1])
        log_z = torch.logsumexp(logits.float(), dim=-1, keepdim=True)
        logits[:, PAD] = float("-inf")  # padding is never a real next token
        top, top_ids = logits.topk(k, dim=-1)
        logp = top.float() - log_z
        # A finished hypothesis may only continue with PAD, at no cost.
        stopped = finished | frozen
        logp = torch.where(stopped[:, None], pad_continuation(k, device), logp)
        top_ids = top_ids.masked_fill(stopped[:, None], PAD)
        total = (scores.view(-1, 1) + logp).view(batch, beam * k)
        scores, flat = total.topk(beam, dim=-1)
        origin = (flat // k + offsets).view(-1)
        tokens = top_ids.view(batch, beam * k).gather(1, flat).view(-1)
        state = reorder_state(state, origin, keep=model.source_state)
        history = torch.cat([history.index_select(0, origin), tokens[:, None]], dim=1)
        if "attn" in state:
            step_attn = state["attn"][:, None]
            attn_history = (
                step_attn
                if attn_history is None
                else torch.cat([attn_history.index_select(0, origin), step_attn], dim=1)
            )
        was_finished = finished.index_select(0, origin)
        lengths = lengths.index_select(0, origin) + (~(was_finished | frozen)).long()
        finished = was_finished | ((tokens == EOS) & ~frozen)
        frozen |= caps <= step  # origin stays within a sentence, so frozen needs no re-ordering
        if bool((finished | frozen).all()):
            break
    normalized = (scores.view(-1) / length_penalty(lengths, alpha)).view(batch, beam)
    normalized = normalized.masked_fill(~finished.view(batch, beam), float("-inf")).where(
        finished.view(batch, beam).any(dim=1, keepdim=True), normalized
    )
    order = normalized.argsort(dim=1, descending=True)
    ids = history.tolist()
    results = []
    for b in range(batch):
        hyps = []
        for k in order[b, :nbest].tolist():
            row = b * beam + k
            attn = attn_history[row] if attn_history is not None else None
            h = _hypothesis(ids[row], float(scores[b, k]), attn, src_lengths_k, row)
            h.normalized = float(normalized[b, k])
            hyps.append(h)
        results.append(hyps)
    return results


@torch.no_grad()
def sample(
    model: SequenceModel,
    prompt: torch.Tensor,
    max_len: int,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
    state: State | None = None,
) -> list[list[int]]:
    """Continue each (B, P) prompt by sampling from the (temperature-scaled, top-k) distribution,
    from the model's start state or a given one (a dialogue context, a chosen latent)."""
    if state is None:
        state = model.start(None, None, prompt.shape[0])
    logp, state = feed_prompt(model, state, prompt)
    out: list[torch.Tensor] = []
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for _ in range(max_len):
        logits = logp / max(temperature, 1e-6)
        logits[:, PAD] = logits[:, BOS] = float("-inf")
        if top_k > 0:
            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        tokens = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)
        tokens = tokens.masked_fill(done, PAD)
        out.append(tokens)
        done |= tokens == EOS
        if bool(done.all()):
            break
        logp, state = model.step(tokens, state)
    ids = torch.stack(out, dim=1).tolist() if out else [[] for _ in range(prompt.shape[0])]
    return [_strip(row) for row in ids]


# ----- strategies: how a translator's search is chosen by name (SearchOptions.strategy)

Strategy = Callable[[SequenceModel, torch.Tensor, torch.Tensor, SearchOptions], list[list[Hypothesis]]]
STRATEGIES: dict[str, Strategy] = {}


def register_strategy(name: str) -> Callable[[Strategy], Strategy]:
    """Decorator: ``fn(model, src, src_lengths, options) -> the options.nbest hypotheses of each source``."""

    def register(fn: Strategy) -> Strategy:
        STRATEGIES[name] = fn
        return fn

    return register


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        from seqtool.plugins import load_plugins

        load_plugins()
    if name not in STRATEGIES:
        raise OptionError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    return STRATEGIES[name]


def search(model: SequenceModel, src: torch.Tensor, src_lengths: torch.Tensor, options: SearchOptions
           ) -> list[list[Hypothesis]]:  # fmt: skip
    """Decode a batch of sources with the strategy ``options`` names."""
    return get_strategy(options.strategy)(model, src, src_lengths, options)


@register_strategy("beam")
def _beam(model: SequenceModel, src: torch.Tensor, lengths: torch.Tensor, o: SearchOptions) -> list[list[Hypothesis]]:
    if o.nbest > o.beam:
        raise OptionError(f"need 1 <= --nbest <= --beam, got beam {o.beam}, nbest {o.nbest}")
    return beam_search(model, src, lengths, beam=o.beam, alpha=o.alpha, nbest=o.nbest, max_len=o.max_len)


@register_strategy("greedy")
def _greedy(model: SequenceModel, src: torch.Tensor, lengths: torch.Tensor, o: SearchOptions) -> list[list[Hypothesis]]:
    if o.nbest != 1:
        raise OptionError(f"greedy search gives one output per sentence: --nbest 1, got {o.nbest}")
    return [[h] for h in greedy(model, src, lengths, o.max_len)]


@register_strategy("sample")
@torch.no_grad()
def _sample(model: SequenceModel, src: torch.Tensor, lengths: torch.Tensor, o: SearchOptions) -> list[list[Hypothesis]]:
    """``nbest`` independent draws per sentence (temperature, top-k), each scored by its log-probability
    under the model (at temperature 1), ranked best first."""
    batch, k = src.shape[0], o.nbest
    rows = torch.arange(batch, device=src.device).repeat_interleave(k)
    state = model.start(src, lengths, batch)
    state = reorder_state(state, rows)
    generator = torch.Generator(device=src.device)
    if o.seed is not None:
        generator.manual_seed(o.seed)
    caps = output_caps(lengths, batch, o.max_len, src.device)[rows]
    tokens = torch.full((batch * k,), BOS, dtype=torch.long, device=src.device)
    scores = torch.zeros(batch * k, device=src.device)
    done = torch.zeros(batch * k, dtype=torch.bool, device=src.device)
    out: list[torch.Tensor] = []
    for step in range(1, int(caps.max()) + 1):
        logp, state = model.step(tokens, state)
        logits = logp / o.temperature
        logits[:, PAD] = logits[:, BOS] = float("-inf")
        if o.top_k > 0:
            kth = logits.topk(min(o.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if o.epsilon > 0:  # epsilon sampling (Hewitt et al. 2022): the most probable token always stays
            keep = (logp >= math.log(o.epsilon)) | (logp == logp.max(dim=-1, keepdim=True).values)
            logits = logits.masked_fill(~keep, float("-inf"))
        tokens = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)
        scores += logp.gather(1, tokens[:, None])[:, 0].masked_fill(done, 0.0)
        tokens = tokens.masked_fill(done, PAD)
        out.append(tokens)
        done |= (tokens == EOS) | (caps <= step)
        if bool(done.all()):
            break
    ids = torch.stack(out, dim=1).tolist()
    results = []
    for b in range(batch):
        hyps = [Hypothesis(_strip(ids[r]), float(scores[r])) for r in range(b * k, (b + 1) * k)]
        for h in hyps:
            h.normalized = h.score / gnmt_penalty(len(h.ids) + 1, o.alpha)
        results.append(sorted(hyps, key=lambda h: -h.normalized))
    return results
