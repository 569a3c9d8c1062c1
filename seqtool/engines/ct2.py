"""CTranslate2: convert seqtool's Transformers with its Python spec API, and translate with the result.

Conversion (:func:`convert`) maps the pre-LN Transformer of :mod:`seqtool.models.transformer`
onto ``ctranslate2.specs.TransformerSpec`` (translators) or ``TransformerDecoderModelSpec`` (the
Transformer LM, run by ``ctranslate2.Generator``): embeddings scaled by sqrt(d), the model's own
sinusoidal table passed as explicit position encodings (CTranslate2's built-in table has another
layout), fused q/k/v and k/v projections, the final LayerNorms, the tied output layer, and the
tokenizer's pieces as the vocabulary with seqtool's specials (``<bos>``/``<eos>``, not ``<s>``/``</s>``).

Decoding (:class:`CT2Translator`) keeps seqtool's meaning of every option: the same output-length
cap per batch, ``min_decoding_length=0`` (CTranslate2's default 1 masks end-of-sentence at the first
step), raw log-probability scores (``length_penalty=0``), and beam search re-ranked with seqtool's
GNMT penalty ((5 + |y|) / 6) ** alpha over all ``beam`` finished hypotheses (CTranslate2's own
penalty is |y| ** alpha without end-of-sentence).

Nothing here imports torch; the converter takes numpy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtool.data.search import (
    Hypothesis,
    SearchOptions,
    Translation,
    gnmt_penalty,
    output_length_cap,
    search_options,
    translate_in_batches,
)
from seqtool.data.specials import BOS, EOS, PAD, UNK
from seqtool.data.text import is_cjk_language
from seqtool.data.tokenizers import Tokenizer
from seqtool.errors import DataError, OptionError
from seqtool.machine import usable_cores

if TYPE_CHECKING:  # numpy only feeds the converter; translating never needs it (0.1 s of start-up)
    import numpy as np

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default


def vocabulary(tok: Tokenizer) -> list[str]:
    """The tokenizer's pieces in id order (CTranslate2 speaks tokens, not ids); they must be unique.
    Ids 0-3 are pad, unk, bos, eos whatever their pieces (``<bos>``, or sentencepiece's ``<s>``)."""
    pieces = [tok.id_to_piece(i) for i in range(tok.vocab_size)]
    if len(set(pieces)) != len(pieces):
        raise DataError("the vocabulary has repeated pieces: CTranslate2 (which reads tokens) cannot map it 1:1")
    return pieces


def _linear(spec: Any, w: dict[str, np.ndarray], prefix: str) -> None:
    spec.weight = w[f"{prefix}.weight"]
    if f"{prefix}.bias" in w:
        spec.bias = w[f"{prefix}.bias"]


def _norm(spec: Any, w: dict[str, np.ndarray], prefix: str) -> None:
    spec.gamma, spec.beta = w[f"{prefix}.weight"], w[f"{prefix}.bias"]


def _stack(spec: Any, w: dict[str, np.ndarray], prefix: str, positions: np.ndarray, cross: bool) -> None:
    """One seqtool TransformerStack (embedding, blocks, final norm) into an encoder/decoder spec."""
    embeddings = spec.embeddings[0] if isinstance(spec.embeddings, list) else spec.embeddings
    embeddings.weight = w[f"{prefix}.embed.weight"]
    spec.scale_embeddings = True  # x * sqrt(d), as TransformerStack.embed_tokens
    spec.position_encodings.encodings = positions
    _norm(spec.layer_norm, w, f"{prefix}.norm")
    for i, layer in enumerate(spec.layer):
        b = f"{prefix}.blocks.{i}"
        _norm(layer.self_attention.layer_norm, w, f"{b}.self_norm")
        _linear(layer.self_attention.linear[0], w, f"{b}.self_attn.qkv_proj")  # fused q, k, v (that order)
        _linear(layer.self_attention.linear[1], w, f"{b}.self_attn.out_proj")
        if cross:
            _norm(layer.attention.layer_norm, w, f"{b}.cross_norm")
            _linear(layer.attention.linear[0], w, f"{b}.cross_attn.q_proj")
            _linear(layer.attention.linear[1], w, f"{b}.cross_attn.kv_proj")  # fused k, v
            _linear(layer.attention.linear[2], w, f"{b}.cross_attn.out_proj")
        _norm(layer.ffn.layer_norm, w, f"{b}.ff_norm")
        _linear(layer.ffn.linear_0, w, f"{b}.ff.0")
        _linear(layer.ffn.linear_1, w, f"{b}.ff.2")


def _special_tokens(config: Any, vocab: list[str]) -> None:
    config.unk_token, config.bos_token, config.eos_token = vocab[UNK], vocab[BOS], vocab[EOS]
    config.layer_norm_epsilon = LAYER_NORM_EPS


def translator_spec(model: dict[str, Any], weights: dict[str, np.ndarray], vocabs: list[list[str]],
                    positions: np.ndarray) -> Any:  # fmt: skip
    """The CTranslate2 spec of a seqtool Transformer translator (vocabularies: source, target)."""
    from ctranslate2.specs import transformer_spec

    spec = transformer_spec.TransformerSpec.from_config(
        (model["encoder_layers"], model["decoder_layers"]), model["heads"], pre_norm=True, alignment_heads=0
    )
    _stack(spec.encoder, weights, "encoder", positions, cross=False)
    _stack(spec.decoder, weights, "decoder", positions, cross=True)
    spec.decoder.projection.weight = weights["output.weight"]
    spec.register_source_vocabulary(vocabs[0])
    spec.register_target_vocabulary(vocabs[1])
    _special_tokens(spec.config, vocabs[1])
    spec.config.decoder_start_token = vocabs[1][BOS]
    spec.config.add_source_bos = spec.config.add_source_eos = False  # seqtool's sources carry no specials
    return spec


def decoder_spec(model: dict[str, Any], weights: dict[str, np.ndarray], vocabs: list[list[str]],
                 positions: np.ndarray) -> Any:  # fmt: skip
    """The CTranslate2 spec of a seqtool Transformer LM (one vocabulary)."""
    from ctranslate2.specs import transformer_spec

    spec = transformer_spec.TransformerDecoderModelSpec.from_config(model["layers"], model["heads"], pre_norm=True)
    _stack(spec.decoder, weights, "stack", positions, cross=False)
    spec.decoder.projection.weight = weights["output.weight"]
    if "output.bias" in weights:
        spec.decoder.projection.bias = weights["output.bias"]
    spec.register_vocabulary(vocabs[0])
    _special_tokens(spec.config, vocabs[0])
    return spec


def convert(build_spec: Callable[[], Any], out_dir: Path, quantization: str) -> Path:
    """Write the CTranslate2 model of ``build_spec()`` (:func:`translator_spec` or :func:`decoder_spec`)
    to ``out_dir`` (which must not exist) through a Converter."""
    from ctranslate2.converters.converter import Converter

    class SeqtoolConverter(Converter):
        def _load(self) -> Any:
            return build_spec()

    SeqtoolConverter().convert(str(out_dir), quantization=quantization)
    return out_dir


# The strategies CTranslate2 decodes itself, and the beam size each asks it for.
BEAM_SIZES: dict[str, Callable[[SearchOptions], int]] = {"beam": lambda o: o.beam, "greedy": lambda o: 1}


def _load_error(path: Path, e: Exception) -> str:
    return f"{path}: cannot load the CTranslate2 engine ({str(e).splitlines()[0] if str(e) else type(e).__name__})"


class CT2Translator:
    """A translator backed by ``ctranslate2.Translator``; the same ``translate`` interface (and results)
    as :class:`seqtool.tasks.mt.LoadedTranslator`."""

    engine = "ctranslate2"

    def __init__(self, md: Any, config: dict[str, Any], folder: Path, src_tok: Tokenizer, tgt_tok: Tokenizer,
                 threads: int | None = None, positions: int = 1024, workers: int = 1) -> None:  # fmt: skip
        import logging

        import ctranslate2

        # Its one warning on CPUs without int16 kernels (the weights then run as int8) is for `export` to say.
        ctranslate2.set_log_level(logging.ERROR)
        self.md, self.config, self.folder, self.src_tok, self.tgt_tok = md, config, folder, src_tok, tgt_tok
        self.positions = positions
        # Where sentences too long for the engine go (auto mode: the torch model, loaded on first need).
        self.fallback: Callable[[], Any] | None = None
        self.device = "cpu"
        # `workers` batches decode at once, each on threads // workers cores: a model this small keeps one
        # core per batch busier than two cores on one batch (docs/benchmarks.md, CTranslate2).
        self.workers = max(1, workers)
        intra = max(1, threads // self.workers) if threads else 0
        try:
            self.translator = ctranslate2.Translator(
                str(folder), device="cpu", compute_type="default", inter_threads=self.workers, intra_threads=intra
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise DataError(_load_error(folder, e)) from None
        self.src_pieces = vocabulary(src_tok)
        tgt = vocabulary(tgt_tok)
        self.tgt_pieces = tgt
        self.tgt_ids = {p: i for i, p in enumerate(tgt)}
        self.eos_piece = tgt[EOS]

    @property
    def joins_output(self) -> bool:
        return is_cjk_language(self.config.get("tgt_lang", ""))

    def translate(self, texts: Sequence[str], *, tokenized: bool = False, **kwargs: Any) -> list[list[Translation]]:
        return self.translate_texts(texts, join=self.joins_output and not tokenized, **kwargs)

    def translate_texts(
        self,
        texts: Sequence[str],
        *,
        search: SearchOptions | None = None,
        batch_sentences: int = 64,
        join: bool = False,
        return_attention: bool = False,
        progress: Callable[[int], None] = lambda done: None,
        **loose: Any,
    ) -> list[list[Translation]]:
        """As :func:`seqtool.tasks.mt.translate_texts`: same batching (shortest first), same output cap
        per batch, same search semantics; attention only when asked (it costs time). Strategies this
        engine has no kernel for (:data:`BEAM_SIZES`) go to the torch model in auto mode."""
        options = search_options(search, **loose)
        if options.strategy not in BEAM_SIZES:
            if self.fallback is None:
                raise OptionError(f"--strategy {options.strategy} runs on seqtool's torch engine only: use "
                                  "--engine torch (or auto)")  # fmt: skip
            return self.fallback().translate(texts, tokenized=not join, search=options,
                                             batch_sentences=batch_sentences, progress=progress)  # fmt: skip
        beam, alpha, nbest = BEAM_SIZES[options.strategy](options), options.alpha, options.nbest
        if nbest > beam:
            raise OptionError(f"need 1 <= --nbest <= --beam, got beam {beam}, nbest {nbest}")
        encoded = self.src_tok.encode_batch(list(texts))
        too_long = [n for n, ids in enumerate(encoded) if len(ids) >= self.positions]
        if too_long and self.fallback is None:
            n = too_long[0]
            raise DataError(f"sentence {n + 1} has {len(encoded[n])} tokens; the CTranslate2 engine handles fewer "
                            f"than {self.positions}: translate it with --engine torch")  # fmt: skip
        fits = [i for i in range(len(texts)) if len(encoded[i]) < self.positions]
        results: list[list[Translation]] = [[] for _ in texts]
        # Each call hands CTranslate2 `workers` batches (it splits them by max_batch_size, shortest together)
        # so that every worker has one; with one worker this is seqtool's own batching.
        found = translate_in_batches(
            [texts[i] for i in fits], [encoded[i] for i in fits],
            lambda sources: self._search(sources, beam, alpha, nbest, return_attention, batch_sentences),
            self.tgt_tok.decode, nbest=nbest, batch_sentences=batch_sentences * self.workers, join=join,
            progress=progress,
        )  # fmt: skip
        for i, outs in zip(fits, found, strict=True):
            results[i] = outs
        if too_long:  # beyond the exported position table: seqtool's torch model, which has no limit
            assert self.fallback is not None
            longs = self.fallback().translate([texts[i] for i in too_long], tokenized=not join, search=options,
                                              batch_sentences=batch_sentences)  # fmt: skip
            for i, outs in zip(too_long, longs, strict=True):
                results[i] = outs
        return results

    def score_ids(self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> list[list[float]]:
        """Per target, the log-probability of each token and of ``</s>`` given its source (CTranslate2's
        ``score_batch``: forced decoding on the exported weights)."""
        too_long = [
            n for n, s in enumerate(sources) if len(s) >= self.positions or len(targets[n]) + 1 >= self.positions
        ]
        if too_long:
            raise DataError(f"pair {too_long[0] + 1} is longer than the CTranslate2 engine's {self.positions} "
                            "positions: score it with --engine torch")  # fmt: skip
        results = self.translator.score_batch(
            [[self.src_pieces[i] for i in s] for s in sources], [[self.tgt_pieces[i] for i in t] for t in targets],
            max_batch_size=64, max_input_length=0,
        )  # fmt: skip
        return [list(r.log_probs) for r in results]

    def _search(self, sources: list[list[int]], beam: int, alpha: float, nbest: int, attention: bool,
                batch_sentences: int) -> list[list[Hypothesis]]:  # fmt: skip
        # Each sentence has its own output-length cap, as in seqtool's search. CTranslate2's cap is per call, and
        # one call per cap value cut a batch into many tiny calls (1.4x torch instead of several times): so
        # the whole batch is decoded once at its largest cap, and only the sentences whose output ran past their
        # own cap are decoded again, grouped by cap, with that cap. An output that ended within its own cap is
        # what the sentence gets alone (the server's micro-batching relies on the same rule).
        caps = [min(output_length_cap(len(s)), self.positions) for s in sources]
        longest = max(caps)
        found = self._search_capped(sources, longest, beam, alpha, nbest, attention, batch_sentences)
        over = [i for i, (hyps, cap) in enumerate(zip(found, caps, strict=True))
                if cap < longest and max(len(h.ids) + 1 for h in hyps) > cap]  # fmt: skip
        for cap in sorted({caps[i] for i in over}):
            rows = [i for i in over if caps[i] == cap]
            chunk = [sources[i] for i in rows]
            redone = self._search_capped(chunk, cap, beam, alpha, nbest, attention, batch_sentences)
            for i, hyps in zip(rows, redone, strict=True):
                found[i] = hyps
        return found

    def _search_capped(self, sources: list[list[int]], max_len: int, beam: int, alpha: float, nbest: int,
                       attention: bool, batch_sentences: int) -> list[list[Hypothesis]]:  # fmt: skip
        greedy = beam == 1 and nbest == 1
        # Split evenly over the workers (a server's micro-batch of 16 sentences: 8 each), at most batch_sentences.
        per_worker = min(batch_sentences, -(-len(sources) // self.workers))
        options: dict[str, Any] = dict(
            max_batch_size=per_worker, beam_size=beam, max_decoding_length=max_len, min_decoding_length=0,
            length_penalty=0.0, return_scores=True, return_end_token=True, return_attention=attention,
            max_input_length=0,
        )  # fmt: skip
        if not greedy:
            # Rank all `beam` finished hypotheses with seqtool's penalty. (<pad> is not suppressed: that
            # would renormalize every step's distribution without it, while seqtool's beam search drops it
            # after normalizing; a trained model never ranks it among the best candidates anyway.)
            options.update(num_hypotheses=beam)
        tokens = [[self.src_pieces[i] for i in s] for s in sources]
        out = []
        for src, result in zip(sources, self.translator.translate_batch(tokens, **options), strict=True):
            hyps, ends = [], []
            for k, pieces in enumerate(result.hypotheses):
                ended = bool(pieces) and pieces[-1] == self.eos_piece
                ends.append(ended)
                ids = [self.tgt_ids[p] for p in (pieces[:-1] if ended else pieces)]
                ids = [i for i in ids if i != PAD]
                score = float(result.scores[k])
                weights = None
                if attention and result.attention:
                    weights = [row[: len(src)] for row in result.attention[k][: len(ids) + 1]]
                h = Hypothesis(ids, score, weights)
                if not greedy:
                    h.normalized = score / gnmt_penalty(len(pieces), alpha)
                hyps.append(h)
            if not greedy:
                # As seqtool's beam search: once any hypothesis has ended, the ones cut off by the length cap
                # rank last (normalized score -inf), but they still fill the n-best list.
                if any(ends):
                    for h, ended in zip(hyps, ends, strict=True):
                        if not ended:
                            h.normalized = float("-inf")
                hyps = sorted(hyps, key=lambda h: h.normalized, reverse=True)
            out.append(hyps[:nbest])
        return out


def open_translator(md: Any, config: dict[str, Any], folder: Path, src_tok: Tokenizer, tgt_tok: Tokenizer,
                    threads: int | None, positions: int, workers: int | None = None) -> CT2Translator:  # fmt: skip
    """The engine in ``folder`` on ``threads`` cores (default: OMP_NUM_THREADS, else every usable core),
    as ``workers`` parallel batches (default: one per core)."""
    if not (folder / "model.bin").is_file():
        raise DataError(f"{folder}: no model.bin; export again with `seqtool export {md.name} --force`")
    threads = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or usable_cores()
    return CT2Translator(md, config, folder, src_tok, tgt_tok, threads, positions, workers or threads)


def runs_as(quantization: str) -> str:
    """What CTranslate2 computes a ``quantization`` export with on this machine's CPU."""
    import ctranslate2

    supported = ctranslate2.get_supported_compute_types("cpu")
    return quantization if quantization in supported else ("int8" if "int8" in supported else "float32")
