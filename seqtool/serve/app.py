"""The FastAPI app: ``create_app(workspace, ...)`` returns an ASGI app that uvicorn (or a test client) runs.

Every answer is JSON; every error is ``{"error": "one line"}`` with its status: 400 malformed JSON,
401 missing/wrong token, 404 unknown model or path, 413 over a size limit, 422 a value the endpoint
cannot use (wrong type, wrong model kind, unknown word), 503 a model that cannot be loaded.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.util
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from seqtool.errors import ModelNotFoundError, SeqtoolError, WorkspaceError
from seqtool.serve import schemas as s
from seqtool.serve.limits import ApiError, Limits
from seqtool.serve.registry import Registry, Served
from seqtool.store.workspace import Workspace
from seqtool.tasks.decoding_tuning import chosen_search
from seqtool.tasks.kinds import find_kind, get_kind

STATIC = files("seqtool.serve") / "static"


def create_app(
    ws: Workspace,
    *,
    names: Sequence[str] | None = None,
    lazy: bool = False,
    limits: Limits | None = None,
    token: str | None = None,
    device: str = "auto",
    max_wait_s: float = 0.005,
    max_tokens: int = 2048,
) -> FastAPI:
    """The server for the models of ``ws`` (loaded now unless ``lazy``); ``token`` guards ``/api/``."""
    limits = limits or Limits()
    registry = Registry(ws, names, lazy=lazy, device=device, max_wait_s=max_wait_s, max_tokens=max_tokens)
    registry.reload()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(registry.close)  # after uvicorn has drained the in-flight requests

    app = FastAPI(
        title="seqtool serve",
        description="Translation, language models and word embeddings of a seqtool workspace.",
        lifespan=lifespan,
        responses={k: {"model": s.ErrorResponse} for k in (400, 401, 404, 413, 422, 503)},
    )
    app.state.registry = registry
    app.state.limits = limits
    _install_errors(app)
    app.add_middleware(_BodyLimit, limit=limits.max_body_bytes)
    if token:
        app.add_middleware(_TokenCheck, token=token)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/fonts/ipaexg.ttf", include_in_schema=False)
    async def cjk_font() -> FileResponse:
        # Japanese on the page without system fonts or a CDN: the IPAexGothic font of the
        # matplotlib-fontja dependency (which draws the figures), loaded only for CJK characters.
        font = _cjk_font()
        if font is None:
            raise ApiError(404, "no CJK font installed (matplotlib-fontja)")
        return FileResponse(str(font), media_type="font/ttf", headers={"Cache-Control": "max-age=86400"})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(registry.models)}

    @app.get("/api/models", response_model=s.ModelsResponse)
    async def models() -> s.ModelsResponse:
        defaults = ws.defaults()
        rows = []
        for md, cfg in ws.list_models():
            entry = registry.models.get(md.name)
            rows.append(_model_info(md.name, cfg, defaults, entry))
        return s.ModelsResponse(workspace=str(ws.root), models=rows)

    @app.get("/api/models/{name}/metrics", response_model=s.MetricsResponse)
    async def metrics(name: str) -> s.MetricsResponse:
        try:
            md = ws.model_dir(name)
            cfg = md.config()
        except WorkspaceError:
            raise ApiError(404, f"no model named {name!r} in {ws.root}") from None
        return s.MetricsResponse(name=name, metric=(cfg.get("best") or {}).get("metric"), metrics=md.metrics())

    @app.get("/api/sweeps", response_model=s.SweepsResponse)
    async def sweeps() -> s.SweepsResponse:
        """The workspace's sweeps (`seqtool sweep`), their trials side by side: read-only."""
        from seqtool.tasks.sweep import list_sweeps

        return s.SweepsResponse(workspace=str(ws.root), sweeps=await asyncio.to_thread(list_sweeps, ws))

    @app.post("/api/models/reload", response_model=s.ReloadResponse)
    async def reload() -> s.ReloadResponse:
        return s.ReloadResponse(**await asyncio.to_thread(registry.reload))

    @app.post("/api/translate", response_model=s.TranslateResponse, response_model_exclude_none=True)
    async def translate(req: s.TranslateRequest) -> s.TranslateResponse:
        t0 = time.perf_counter()
        texts = [req.q] if isinstance(req.q, str) else list(req.q)
        if not texts or (isinstance(req.q, str) and not req.q.strip()):
            raise ApiError(422, "q is empty: give a sentence or a list of sentences")
        if len(texts) > limits.max_sentences:
            raise ApiError(413, f"{len(texts)} sentences is over the limit of {limits.max_sentences} (--max-sentences)")
        for text in texts:
            limits.check_text(text)
        entry = registry.get(req.model, "mt")
        search = chosen_search(entry.config, req.beam, req.length_penalty, strategy=req.strategy, nbest=req.nbest,
                               temperature=req.temperature, top_k=req.top_k, seed=req.seed)  # fmt: skip
        if max(search.beam, search.nbest) > limits.max_beam:
            raise ApiError(422, f"beam {search.beam} is over the limit of {limits.max_beam} (--max-beam)")
        if req.attention and (entry.config.get("model") or {}).get("attention", "none") == "none":
            raise ApiError(
                422, f"model {entry.name!r} has no attention to show (train with --attention bahdanau|luong)"
            )
        assert entry.worker is not None
        if req.mbr:  # sampling and reranking on the model's own thread (not pooled with other requests)
            from seqtool.tasks.mbr import mbr_translate

            found = await _call(entry, lambda loaded: mbr_translate(loaded, texts, search, req.mbr, req.mbr_metric))
        else:
            found = await asyncio.wrap_future(entry.worker.translate(texts, search))
        tr = entry.load()
        out = [
            _translation(tr, text, hyps, req.nbest > 1, req.attention) for text, hyps in zip(texts, found, strict=True)
        ]
        if req.confidence:  # forced decoding of the outputs on the model's own thread
            from seqtool.tasks.scoring import confidence

            scored = await _call(entry, lambda loaded: confidence(loaded, texts, found))
            for t, scores in zip(out, scored, strict=True):
                for cand, sc in zip([t, *(t.nbest or [])], [scores[0], *scores], strict=False):
                    cand.probs, cand.mean_logprob = [math.exp(lp) for lp in sc.logprobs], sc.mean
        return s.TranslateResponse(translations=out, model=entry.name, ms=round((time.perf_counter() - t0) * 1000, 2))

    @app.post("/api/predict", response_model=s.PredictResponse)
    async def predict(req: s.PredictRequest) -> s.PredictResponse:
        """Any served model, whatever its kind (ModelKind.predict): the one endpoint a plugin's kind gets."""
        limits.check_text(req.text, "text")
        entry = registry.get_any(req.model)
        kind = get_kind(entry.kind)
        output = await _call(entry, lambda loaded: kind.predict(loaded, req.text, **req.options))
        return s.PredictResponse(model=entry.name, kind=entry.kind, output=output)

    @app.post("/api/similar", response_model=s.NeighboursResponse)
    async def similar(req: s.SimilarRequest) -> s.NeighboursResponse:
        from seqtool.embeddings import neighbours

        word = req.word.strip()
        limits.check_text(word, "word")
        _check_top(req.top, limits)
        entry = registry.get(req.model, "embeddings")
        results = await _call(entry, lambda emb: neighbours(emb, word, top=req.top))
        return s.NeighboursResponse(query=word, results=_scored(results), model=entry.name)

    @app.post("/api/analogy", response_model=s.NeighboursResponse)
    async def analogy(req: s.AnalogyRequest) -> s.NeighboursResponse:
        from seqtool.embeddings import analogy as solve
        from seqtool.embeddings.analogy import check_method, parse_expression

        limits.check_text(req.expression, "expression")
        _check_top(req.top, limits)
        expr = parse_expression(req.expression)
        check_method(req.method)
        entry = registry.get(req.model, "embeddings")
        _, results = await _call(entry, lambda emb: solve(emb, expr, top=req.top, method=req.method))
        return s.NeighboursResponse(query=str(expr), results=_scored(results), model=entry.name)

    @app.post("/api/predict-next", response_model=s.PredictNextResponse)
    async def predict_next(req: s.PredictNextRequest) -> s.PredictNextResponse:
        from seqtool.tasks.lm import predict_next as predict

        limits.check_text(req.text, "text")
        _check_top(req.top, limits)
        entry = registry.get(req.model, "lm")
        found = await _call(entry, lambda lm: predict(lm, req.text, req.top))
        results = [s.WordProbability(word=w, probability=p) for w, p in found]
        return s.PredictNextResponse(model=entry.name, query=req.text, results=results)

    @app.post("/api/generate", response_model=s.GenerateResponse)
    async def generate(req: s.GenerateRequest) -> s.GenerateResponse:
        from seqtool.tasks.lm import generate as sample

        limits.check_text(req.prompt, "prompt")
        if req.max_words > limits.max_words:
            raise ApiError(422, f"max_words {req.max_words} is over the limit of {limits.max_words}")
        if req.num > limits.max_samples:
            raise ApiError(422, f"num {req.num} is over the limit of {limits.max_samples}")
        entry = registry.get(req.model, "lm")

        def run(lm: Any) -> list[str]:
            seeds = [None if req.seed is None else req.seed + i for i in range(req.num)]
            return [sample(lm, req.prompt, req.max_words, req.temperature, req.top_k, seed) for seed in seeds]

        samples = await _call(entry, run)
        return s.GenerateResponse(model=entry.name, prompt=req.prompt, samples=samples)

    @app.post("/api/respond", response_model=s.RespondResponse)
    async def respond(req: s.RespondRequest) -> s.RespondResponse:
        from seqtool.tasks.dialog import respond as reply

        history = [u for u in req.history if u.strip()]
        if not history:
            raise ApiError(422, "history is empty: give at least one utterance to reply to")
        if len(history) > limits.max_sentences:
            raise ApiError(413, f"{len(history)} utterances is over the limit of {limits.max_sentences}")
        for utterance in history:
            limits.check_text(utterance, "history")
        if req.num > limits.max_samples:
            raise ApiError(422, f"num {req.num} is over the limit of {limits.max_samples}")
        entry = registry.get(req.model, "dialog")
        replies = await _call(entry, lambda dm: reply(dm, history, req.num, req.temperature, req.seed))
        return s.RespondResponse(model=entry.name, history=history, replies=replies)

    @app.post("/api/evaluate/bleu", response_model=s.BleuResponse)
    async def bleu(req: s.BleuRequest) -> s.BleuResponse:
        from seqtool.metrics import choose_tokenize, translation_scores

        most = limits.max_sentences * 100
        if len(req.hypotheses) > most or len(req.references) > most:
            raise ApiError(413, f"over the limit of {most:,} lines per BLEU request (100 x --max-sentences)")
        if not req.hypotheses:
            raise ApiError(422, "hypotheses is empty: give the translations to score")
        for line in (*req.hypotheses, *req.references):
            limits.check_text(line, "line")
        choice = choose_tokenize(req.references, req.tgt_lang, req.tokenize, label="tokenize")  # a bad name: 422
        scores = await asyncio.to_thread(translation_scores, req.hypotheses, req.references, choice)
        return s.BleuResponse(**scores.as_dict())

    return app


def _cjk_font() -> Path | None:
    spec = importlib.util.find_spec("matplotlib_fontja")  # finds the package without importing matplotlib
    if spec is None or not spec.submodule_search_locations:
        return None
    font = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"
    return font if font.is_file() else None


async def _call(entry: Served, fn: Any) -> Any:
    """Run ``fn(loaded model)`` on the model's worker thread."""
    assert entry.worker is not None
    return await asyncio.wrap_future(entry.worker.call(lambda: fn(entry.load())))


def _check_top(top: int, limits: Limits) -> None:
    if top > limits.max_top:
        raise ApiError(422, f"top {top} is over the limit of {limits.max_top}")


def _scored(results: list[Any]) -> list[s.Scored]:
    return [s.Scored(word=r.word, score=round(r.score, 6)) for r in results]


def _translation(tr: Any, source: str, hyps: list[Any], nbest: bool, attention: bool) -> s.Translation:
    """One sentence's answer from its n-best :class:`~seqtool.data.search.Translation`\\ s, best first."""
    cands = [
        s.Candidate(text=t.text, tokens=[tr.tgt_tok.id_to_piece(i) for i in t.hypothesis.ids], score=t.hypothesis.score)
        for t in hyps
    ]
    best = s.Translation(**cands[0].model_dump(), nbest=cands if nbest else None)
    weights = hyps[0].hypothesis.attention
    if attention and weights:
        target = [*best.tokens, "</s>"][: len(weights)]
        best.attention = s.Attention(source=tr.src_tok.pieces(source), target=target, weights=weights)
    return best


def _model_info(name: str, cfg: dict[str, Any], defaults: dict[str, str], entry: Served | None) -> s.ModelInfo:
    kind = str(cfg.get("kind"))
    model_kind = find_kind(kind)
    langs = model_kind.languages(cfg) if model_kind is not None else []
    best = cfg.get("best") or {}
    value = best.get("value")
    return s.ModelInfo(
        name=name, kind=kind, architecture=cfg.get("arch"), languages=[str(x) for x in langs],
        best_metric=best.get("metric"), best_value=value if isinstance(value, int | float) else None,
        status=cfg.get("status"), default=defaults.get(kind) == name, served=entry is not None,
        loaded=entry is not None and entry.loaded is not None,
    )  # fmt: skip


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return _error(e.status, e.message)

    @app.exception_handler(ModelNotFoundError)
    async def not_found(_: Request, e: ModelNotFoundError) -> JSONResponse:
        return _error(404, str(e))

    @app.exception_handler(SeqtoolError)
    async def bad_value(_: Request, e: SeqtoolError) -> JSONResponse:
        return _error(422, str(e))  # an option, expression or word the model cannot use

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return _error(400, "malformed JSON in the request body")
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return _error(422, f"{where}: {first.get('msg', 'invalid value')}{more}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def internal(_: Request, e: Exception) -> JSONResponse:
        return _error(500, f"internal error: {type(e).__name__}: {e}")


class _BodyLimit:
    """413 for a request body over ``limit`` bytes, by its Content-Length or while it streams in."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body over the limit of {self.limit:,} bytes (--max-body-bytes)"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await _error(413, message)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No Content-Length (a chunked upload): read it here, at most ``limit`` bytes, then replay it.
        chunks, seen, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # the client went away
            chunks.append(msg.get("body", b""))
            seen += len(chunks[-1])
            more = msg.get("more_body", False)
            if seen > self.limit:
                await _error(413, message)(scope, receive, send)
                return
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> dict:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


class _TokenCheck:
    """401 for an ``/api/`` request without ``Authorization: Bearer TOKEN`` (or ``X-Seqtool-Token``)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"x-seqtool-token") or headers.get(b"authorization", b"").removeprefix(b"Bearer ")
            if not hmac.compare_digest(given, self.token):
                await _error(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'")(scope, receive, send)
                return
        await self.app(scope, receive, send)
