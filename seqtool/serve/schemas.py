"""Request and response bodies of the API (pydantic): the OpenAPI schema at ``/docs`` is generated from these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 422 naming it, not silently ignored

    model: str | None = Field(None, description="Model name (default: the workspace default of the endpoint's kind).")


class TranslateRequest(_Request):
    q: str | list[str] = Field(..., description="A sentence, or a list of sentences; raw text as a user types it.")
    beam: int | None = Field(None, ge=1, description="Beam size (1: greedy) [default: the model's tuned beam, else 5].")
    nbest: int = Field(1, ge=1, description="Also return the N best translations of each sentence.")
    length_penalty: float | None = Field(
        None, ge=0.0, le=10.0, description="GNMT length penalty alpha [default: the model's tuned alpha, else 1.0]."
    )
    attention: bool = Field(False, description="Return the attention weights (attention models only).")
    strategy: str = Field("beam", description="Search: beam, greedy, sample, or a plugin's strategy.")
    confidence: bool = Field(False, description="Also each output token's probability and the mean log-probability.")
    temperature: float | None = Field(None, gt=0.0, description="strategy sample: temperature [default: 1.0].")
    top_k: int | None = Field(None, ge=0, description="strategy sample: draw among the K best tokens (0: all).")
    seed: int | None = Field(None, description="strategy sample: random seed (the same seed, the same draws).")
    mbr: int | None = Field(
        None, ge=1, le=64, description="Minimum Bayes risk: draw N epsilon samples and return the candidate (of "
        "them and the beam's n-best) with the highest expected utility against the samples."
    )  # fmt: skip
    mbr_metric: str = Field("chrf", description="mbr: the utility, chrf or bleu (sacrebleu sentence scores).")


class Attention(BaseModel):
    source: list[str] = Field(..., description="Source pieces (columns).")
    target: list[str] = Field(..., description="Output pieces, </s> last (rows).")
    weights: list[list[float]] = Field(..., description="One row per output piece, one weight per source piece.")


class Candidate(BaseModel):
    text: str = Field(..., description="Display text (Japanese without word spaces).")
    tokens: list[str] = Field(..., description="Output pieces of the target tokenizer.")
    score: float = Field(..., description="Total log-probability.")
    probs: list[float] | None = Field(
        None, description="confidence: the probability of each of `tokens`, then of </s> (forced decoding)."
    )
    mean_logprob: float | None = Field(
        None, description="confidence: mean log-probability per token (</s> included); low means doubtful."
    )


class Translation(Candidate):
    nbest: list[Candidate] | None = Field(None, description="The N best, best first (when nbest > 1).")
    attention: Attention | None = None


class TranslateResponse(BaseModel):
    translations: list[Translation]
    model: str
    ms: float = Field(..., description="Milliseconds spent on the request in the server.")


class SimilarRequest(_Request):
    word: str
    top: int = Field(10, ge=1)


class AnalogyRequest(_Request):
    expression: str = Field(..., description="Words joined by + and - (ASCII or full-width): 父 - 男 + 女")
    top: int = Field(5, ge=1)
    method: str = Field("add", description="add (3CosAdd) or mul (3CosMul).")


class Scored(BaseModel):
    word: str
    score: float


class NeighboursResponse(BaseModel):
    query: str
    results: list[Scored]
    model: str


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(..., description="Model name (any kind: the kind decides what a prediction is).")
    text: str = Field(..., description="The input: a sentence, a prompt, a word, turns joined by '|' for dialogue.")
    options: dict[str, Any] = Field(default_factory=dict, description='The kind\'s options, e.g. {"top": 3}.')


class PredictResponse(BaseModel):
    model: str
    kind: str
    output: Any = Field(..., description="What the kind's predict returns (JSON).")


class PredictNextRequest(_Request):
    text: str = Field(..., description='The words so far, e.g. "i can \'t".')
    top: int = Field(5, ge=1)


class WordProbability(BaseModel):
    word: str
    probability: float


class PredictNextResponse(BaseModel):
    model: str
    query: str
    results: list[WordProbability]


class GenerateRequest(_Request):
    prompt: str = ""
    max_words: int = Field(30, ge=1)
    temperature: float = Field(1.0, gt=0.0)
    top_k: int = Field(0, ge=0)
    num: int = Field(1, ge=1)
    seed: int | None = None


class GenerateResponse(BaseModel):
    model: str
    prompt: str
    samples: list[str]


class RespondRequest(_Request):
    history: list[str] = Field(..., description="The conversation so far, oldest utterance first.")
    num: int = Field(1, ge=1, description="How many replies.")
    temperature: float = Field(0.0, ge=0.0, le=10.0, description="0: greedy (VHRED still varies by its z).")
    seed: int | None = None


class RespondResponse(BaseModel):
    model: str
    history: list[str]
    replies: list[str]


class BleuRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hypotheses: list[str]
    references: list[str]
    tokenize: str = Field(
        "auto",
        description="BLEU's sacrebleu tokenizer; 'auto': 'none' for segmented references, else by target language "
        "(ja-mecab, zh, ko-mecab, 13a); docs/translation-scoring.md.",
    )
    tgt_lang: str | None = Field(None, description="Target language for tokenize 'auto' (default: from the script).")


class BleuResponse(BaseModel):
    bleu: float
    chrf: float
    ter: float
    signatures: dict[str, str]
    sentences: int
    tokenize: str = Field(..., description="The sacrebleu tokenizer BLEU used (also in signatures.bleu as tok:).")
    tokenize_reason: str = Field(..., description="Why that tokenizer, in a sentence.")


class ModelInfo(BaseModel):
    name: str
    kind: str
    architecture: str | None
    languages: list[str] = Field(..., description="[source, target] for translators, [language] otherwise.")
    best_metric: str | None
    best_value: float | None
    status: str | None
    default: bool = Field(..., description="The workspace default of its kind.")
    served: bool = Field(..., description="Answered by this server (finished, and in --models if given).")
    loaded: bool = Field(..., description="In memory now (with --lazy, models load on first use).")


class ModelsResponse(BaseModel):
    workspace: str
    models: list[ModelInfo]


class MetricsResponse(BaseModel):
    name: str
    metric: str | None = Field(..., description="The dev metric training selected on.")
    metrics: list[dict]


class SweepTrial(BaseModel):
    number: int
    state: str = Field(..., description="complete, pruned, fail or running.")
    value: float | None = Field(..., description="The trial's dev metric (a pruned trial: its last report).")
    params: dict = Field(..., description="The options the trial drew.")
    model: str | None = Field(..., description="The trial's model in the workspace.")
    epochs: int | None
    seconds: float | None


class SweepInfo(BaseModel):
    name: str
    command: str = Field(..., description="The swept training command, e.g. train-mt.")
    metric: str
    direction: str = Field(..., description="maximize or minimize.")
    trials: list[SweepTrial]
    best: SweepTrial | None
    spent_s: float


class SweepsResponse(BaseModel):
    workspace: str
    sweeps: list[SweepInfo]


class ReloadResponse(BaseModel):
    added: list[str]
    reloaded: list[str]
    removed: list[str]


class ErrorResponse(BaseModel):
    error: str
