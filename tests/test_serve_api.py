"""`seqtool serve`'s API through the ASGI test client, on tiny models trained on the sample data:
every endpoint, every error status, the token, reloading, and micro-batching correctness."""

from __future__ import annotations

import asyncio
import math
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from seqtool.embeddings import analogy, load_embeddings, neighbours
from seqtool.metrics import translation_scores
from seqtool.serve.app import create_app
from seqtool.serve.limits import Limits
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import generate, load_lm, predict_next
from seqtool.tasks.mt import load_translator
from tests.conftest import SAMPLE, assert_clean_error, run_cli
from tests.serve_models import EMB, LM, MT, SWEEP, SWEEP_TRIALS, served_workspace  # noqa: F401 - the fixture

DEV = [line for line in (SAMPLE / "enja" / "dev.en").read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def client(served_workspace: Path):  # noqa: F811 - the imported fixture
    app = create_app(Workspace(served_workspace), device="cpu", limits=Limits(max_chars=200, max_sentences=8))
    with TestClient(app) as c:
        yield c


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response, status: int, *needles: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"} and body["error"], body
    for needle in needles:
        assert needle in body["error"], (needle, body)


def test_health_models_metrics_and_schema(client: TestClient) -> None:
    assert ok(client.get("/health")) == {"status": "ok", "models": 3}
    models = {m["name"]: m for m in ok(client.get("/api/models"))["models"]}
    assert models[MT]["kind"] == "mt" and models[MT]["languages"] == ["en", "ja"]
    assert models[MT]["architecture"] == "bigru+bahdanau" and models[MT]["best_metric"] == "dev_bleu"
    assert models[LM]["kind"] == "lm" and models[EMB]["languages"] == ["ja"]
    assert all(m["default"] and m["served"] and m["loaded"] for m in models.values())
    curve = ok(client.get(f"/api/models/{MT}/metrics"))
    assert curve["metric"] == "dev_bleu" and len(curve["metrics"]) == 8
    assert curve["metrics"][-1]["dev_bleu"] > curve["metrics"][0]["dev_bleu"]
    error(client.get("/api/models/nope/metrics"), 404, "nope")
    schema = ok(client.get("/openapi.json"))
    assert {"/api/translate", "/api/analogy", "/api/evaluate/bleu", "/api/models/reload"} <= set(schema["paths"])
    assert "TranslateRequest" in schema["components"]["schemas"]


def test_sweeps_are_listed_with_their_trials(client: TestClient) -> None:
    r = client.get("/api/sweeps")
    assert r.status_code == 200
    (sweep,) = r.json()["sweeps"]
    assert sweep["name"] == SWEEP and sweep["metric"] == "dev_bleu" and sweep["direction"] == "maximize"
    assert [t["state"] for t in sweep["trials"]] == [state.lower() for *_, state in SWEEP_TRIALS]
    best = max((t for t in SWEEP_TRIALS if t[3] == "COMPLETE"), key=lambda t: t[0])
    assert sweep["best"]["value"] == best[0] and sweep["best"]["params"]["lr"] == best[1]


def test_the_page_is_served_and_needs_nothing_from_the_network(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "Translate" in page.text and "/static/app.js" in page.text
    for path in ("/static/app.js", "/static/app.css"):
        text = client.get(path).text
        assert client.get(path).status_code == 200
        assert "https://" not in text and "cdn" not in text.lower()


def test_translate_matches_the_cli_library_path(served_workspace: Path, client: TestClient) -> None:  # noqa: F811
    tr = load_translator(Workspace(served_workspace), MT, "cpu")
    body = ok(client.post("/api/translate", json={"q": "i can't swim"}))
    assert body["model"] == MT and body["ms"] > 0
    (t,) = body["translations"]
    assert t["text"] == "私は泳げない。" == tr.translate(["i can't swim"])[0][0].text
    assert "".join(t["tokens"]).replace("▁", "") == "私は泳げない。" and "nbest" not in t and "attention" not in t
    texts = DEV[:3]
    body = ok(client.post("/api/translate", json={"q": texts, "beam": 4, "nbest": 3, "length_penalty": 0.6}))
    expected = tr.translate(texts, beam=4, nbest=3, alpha=0.6)
    for got, hyps in zip(body["translations"], expected, strict=True):
        assert [c["text"] for c in got["nbest"]] == [t.text for t in hyps] and got["text"] == hyps[0].text
        assert [c["score"] for c in got["nbest"]] == pytest.approx([t.hypothesis.score for t in hyps], abs=1e-4)


def test_mbr_answers_as_the_library_does(served_workspace: Path, client: TestClient) -> None:  # noqa: F811
    from seqtool.tasks.decoding_tuning import chosen_search
    from seqtool.tasks.mbr import mbr_translate

    tr = load_translator(Workspace(served_workspace), MT, "cpu")
    texts = DEV[:3]
    body = ok(client.post("/api/translate", json={"q": texts, "mbr": 8, "nbest": 2}))
    expected = mbr_translate(tr, texts, chosen_search(tr.config, nbest=2), 8)
    for got, hyps in zip(body["translations"], expected, strict=True):
        assert [c["text"] for c in got["nbest"]] == [t.text for t in hyps]
    error(client.post("/api/translate", json={"q": "hi", "mbr": 8, "mbr_metric": "ter"}), 422, "--mbr-metric")
    error(client.post("/api/translate", json={"q": "hi", "mbr": 0}), 422, "mbr")


def test_an_ensemble_of_served_translators(served_workspace: Path, tmp_path: Path) -> None:  # noqa: F811
    import json

    from seqtool.tasks.decoding_tuning import chosen_search
    from seqtool.tasks.translator import load_ensemble

    root = tmp_path / "ws"
    shutil.copytree(served_workspace, root)
    shutil.copytree(root / "models" / MT, root / "models" / "mt-copy")  # the same weights under another name
    cfg = json.loads((root / "models" / "mt-copy" / "config.json").read_text())
    (root / "models" / "mt-copy" / "config.json").write_text(json.dumps({**cfg, "name": "mt-copy"}))
    pair, texts = f"{MT},mt-copy", DEV[:3]
    with TestClient(create_app(Workspace(root), names=[MT, "mt-copy", EMB], device="cpu")) as c:
        body = ok(c.post("/api/translate", json={"q": texts, "model": pair, "nbest": 2}))
        assert body["model"] == pair
        expected = load_ensemble(Workspace(root), pair, "cpu").translate(texts, search=chosen_search(cfg, nbest=2))
        for got, hyps in zip(body["translations"], expected, strict=True):
            assert [t["text"] for t in got["nbest"]] == [t.text for t in hyps]
        # two copies of one model agree on every step: their ensemble translates as the model alone
        alone = ok(c.post("/api/translate", json={"q": texts, "model": MT, "nbest": 2}))
        assert [t["text"] for t in body["translations"]] == [t["text"] for t in alone["translations"]]
        error(c.post("/api/translate", json={"q": "hi", "model": f"{MT},{EMB}"}), 422, "ensemble")
        error(c.post("/api/translate", json={"q": "hi", "model": f"{MT},nope"}), 404, "nope")
        error(c.post("/api/translate", json={"q": "hi", "model": f"{MT},{MT}"}), 422, "two or more different")


def test_attention_has_one_row_per_output_piece(client: TestClient) -> None:
    (t,) = ok(client.post("/api/translate", json={"q": "my father likes cats .", "attention": True}))["translations"]
    att = t["attention"]
    assert att["target"] == [*t["tokens"], "</s>"] and len(att["weights"]) == len(att["target"])
    assert "".join(att["source"]).replace("▁", " ").strip() == "my father likes cats ."
    for row in att["weights"]:
        assert len(row) == len(att["source"]) and sum(row) == pytest.approx(1.0, abs=1e-3)


def test_confidence_is_each_outputs_own_probability(client: TestClient) -> None:
    """confidence: true gives every candidate its tokens' probabilities (then </s>'s) and their mean log."""
    body = ok(client.post("/api/translate", json={"q": ["my father likes cats .", "i can't swim"], "beam": 3,
                                                  "nbest": 2, "confidence": True}))  # fmt: skip
    for t in body["translations"]:
        for cand in [t, *t["nbest"]]:
            assert len(cand["probs"]) == len(cand["tokens"]) + 1 and all(0 < p <= 1 for p in cand["probs"])
            assert math.prod(cand["probs"]) == pytest.approx(math.exp(cand["score"]), rel=1e-3)
            assert cand["mean_logprob"] == pytest.approx(cand["score"] / len(cand["probs"]), abs=1e-4)
    plain = ok(client.post("/api/translate", json={"q": "i can't swim"}))["translations"][0]
    assert "probs" not in plain or plain["probs"] is None


def test_a_strategy_is_chosen_by_name(client: TestClient) -> None:
    greedy = ok(client.post("/api/translate", json={"q": "i can't swim", "strategy": "greedy"}))["translations"][0]
    beam1 = ok(client.post("/api/translate", json={"q": "i can't swim", "beam": 1}))["translations"][0]
    assert greedy["text"] == beam1["text"]
    drawn = [ok(client.post("/api/translate", json={"q": "i can't swim", "strategy": "sample", "seed": 5}))
             for _ in range(2)]  # fmt: skip
    assert drawn[0]["translations"] == drawn[1]["translations"]  # the same seed, the same draw
    error(client.post("/api/translate", json={"q": "hi", "strategy": "nope"}), 422, "--strategy must be one of")


def test_concurrent_requests_get_exactly_what_they_get_alone(served_workspace: Path) -> None:  # noqa: F811
    app = create_app(Workspace(served_workspace), names=[MT], device="cpu", max_wait_s=0.05)
    worker = app.state.registry.models[MT].worker
    requests = [{"q": DEV[i : i + 1 + i % 3], "beam": 3, "nbest": 2} for i in range(0, 40, 5)]  # 1-3 sentences

    async def main() -> tuple[list[dict], list[dict], int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            alone = [(await c.post("/api/translate", json=r)).json() for r in requests]
            release = threading.Event()
            worker.call(release.wait)  # hold the worker so that every request below is queued first
            batches = worker.batches
            pending = [asyncio.create_task(c.post("/api/translate", json=r)) for r in requests]
            while worker._queue.qsize() < len(requests):
                await asyncio.sleep(0.01)
            release.set()
            together = [(await p).json() for p in pending]
            return alone, together, worker.batches - batches

    alone, together, batches = asyncio.run(main())
    assert batches == 1  # all eight requests were decoded in one call...
    for a, b in zip(alone, together, strict=True):  # ...and each got its own sentences, as alone
        assert [t["text"] for t in a["translations"]] == [t["text"] for t in b["translations"]]
        assert [[c["tokens"] for c in t["nbest"]] for t in a["translations"]] == [
            [c["tokens"] for c in t["nbest"]] for t in b["translations"]
        ]
        scores = [c["score"] for t in b["translations"] for c in t["nbest"]]
        assert scores == pytest.approx([c["score"] for t in a["translations"] for c in t["nbest"]], abs=1e-4)
    app.state.registry.close()


def test_embeddings_and_language_model_answer_as_the_cli(served_workspace: Path, client: TestClient) -> None:  # noqa: F811
    emb = load_embeddings(served_workspace, EMB)
    body = ok(client.post("/api/analogy", json={"expression": "父－男＋女", "top": 3}))
    assert body["query"] == "父 - 男 + 女" and body["results"][0]["word"] == "母"
    assert [r["word"] for r in body["results"]] == [n.word for n in analogy(emb, "父 - 男 + 女", top=3)[1]]
    body = ok(client.post("/api/similar", json={"word": "家族", "top": 4}))
    assert [r["word"] for r in body["results"]] == [n.word for n in neighbours(emb, "家族", top=4)]
    lm = load_lm(Workspace(served_workspace), LM, "cpu")
    body = ok(client.post("/api/predict-next", json={"text": "i can 't", "top": 4}))
    assert [(r["word"], pytest.approx(r["probability"], abs=1e-5)) for r in body["results"]] == predict_next(
        lm, "i can 't", 4
    )
    body = ok(client.post("/api/generate", json={"prompt": "my father", "num": 2, "seed": 3, "temperature": 0.7}))
    assert body["samples"] == [generate(lm, "my father", 30, 0.7, 0, seed) for seed in (3, 4)]
    hyps, refs = ["私 は 泳げ な い 。", "猫 が 好き"], ["私 は 泳げ な い 。", "犬 が 好き"]
    body = ok(client.post("/api/evaluate/bleu", json={"hypotheses": hyps, "references": refs}))
    assert body == {**translation_scores(hyps, refs).as_dict()}
    assert body["signatures"]["bleu"].startswith("nrefs:1|")


def test_every_error_is_a_json_error_with_its_status(client: TestClient) -> None:
    post = client.post
    error(post("/api/translate", content=b'{"q": "a', headers={"content-type": "application/json"}), 400, "JSON")
    error(post("/api/translate", json={"q": 5}), 422, "q")
    error(post("/api/translate", json={"text": "hi"}), 422)
    error(post("/api/translate", json={"q": "hi", "beam": 0}), 422, "beam")
    error(post("/api/translate", json={"q": "hi", "beam": 99}), 422, "--max-beam")
    error(post("/api/translate", json={"q": "hi", "beam": 2, "nbest": 3}), 422, "nbest")
    error(post("/api/translate", json={"q": "  "}), 422, "empty")
    error(post("/api/translate", json={"q": ["hi"] * 9}), 413, "--max-sentences")
    error(post("/api/translate", json={"q": "a" * 201}), 413, "--max-chars")
    error(post("/api/translate", content=b"[" * 2_000_000, headers={"content-type": "application/json"}), 413, "bytes")
    chunked = post("/api/translate", content=iter([b'{"q": "', b"a" * 1_500_000, b'"}']))
    error(chunked, 413, "--max-body-bytes")
    error(post("/api/translate", json={"q": "hi", "model": "nope"}), 404, "nope", MT)
    error(post("/api/translate", json={"q": "hi", "model": LM}), 422, "lm model")
    error(post("/api/similar", json={"word": "ねこねこ"}), 422, "ねこねこ", "vocabulary")
    error(post("/api/analogy", json={"expression": "父 - "}), 422)
    error(post("/api/analogy", json={"expression": "父 - 男 + 女", "method": "div"}), 422, "div")
    error(post("/api/predict-next", json={"text": "x", "model": EMB}), 422, "embeddings model")
    error(post("/api/generate", json={"temperature": 0}), 422, "temperature")
    error(post("/api/evaluate/bleu", json={"hypotheses": ["a"], "references": ["a", "b"]}), 422, "references")
    error(client.get("/no/such/page"), 404)
    error(client.get("/api/translate"), 405)


def test_a_burst_of_bad_requests_leaves_the_server_translating(client: TestClient) -> None:
    bad = [
        {"content": b"{nope"}, {"json": {"q": None}}, {"json": {"q": "a" * 10_000}}, {"json": {"q": "x", "model": "m"}},
        {"content": b"\xff\xfe\x00"}, {"json": []}, {"json": {"q": [1, 2]}}, {"json": {"q": ["ok"], "beam": "x"}},
    ]  # fmt: skip
    for i in range(200):
        kwargs = bad[i % len(bad)]
        r = client.post("/api/translate", headers={"content-type": "application/json"}, **kwargs)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (kwargs, r.text)
    assert ok(client.post("/api/translate", json={"q": "i can't swim"}))["translations"][0]["text"] == "私は泳げない。"


def test_token_is_checked_on_every_api_request(served_workspace: Path) -> None:  # noqa: F811
    app = create_app(Workspace(served_workspace), names=[EMB], token="s3cret", device="cpu")
    with TestClient(app) as c:
        assert ok(c.get("/health"))["status"] == "ok" and c.get("/").status_code == 200
        error(c.get("/api/models"), 401, "token")
        error(c.post("/api/similar", json={"word": "家族"}, headers={"Authorization": "Bearer wrong"}), 401)
        assert ok(c.post("/api/similar", json={"word": "家族"}, headers={"Authorization": "Bearer s3cret"}))
        assert ok(c.get("/api/models", headers={"X-Seqtool-Token": "s3cret"}))


def test_cli_refuses_a_public_host_without_a_token_and_unknown_models(tmp_path: Path) -> None:
    assert_clean_error(run_cli("serve", "--host", "0.0.0.0", "-w", str(tmp_path)), "--token")
    assert_clean_error(run_cli("serve", "--models", "ghost", "-w", str(tmp_path)), "ghost")


def test_reload_picks_up_new_and_removed_models_and_lazy_loads_on_use(served_workspace: Path, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "ws"
    shutil.copytree(served_workspace, root)
    ws = Workspace(root)
    app = create_app(ws, lazy=True, device="cpu")
    with TestClient(app) as c:
        assert not any(m["loaded"] for m in ok(c.get("/api/models"))["models"])
        assert ok(c.post("/api/predict-next", json={"text": "i"}))["model"] == LM
        loaded = {m["name"]: m["loaded"] for m in ok(c.get("/api/models"))["models"]}
        assert loaded == {LM: True, MT: False, EMB: False}
        ws.remove(LM)
        shutil.copytree(root / "models" / MT, root / "models" / "mt-copy")
        assert ok(c.post("/api/models/reload")) == {"added": ["mt-copy"], "reloaded": [], "removed": [LM]}
        error(c.post("/api/predict-next", json={"text": "i"}), 404, "lm model")
        body = ok(c.post("/api/translate", json={"q": "i can't swim", "model": "mt-copy"}))
        assert body["translations"][0]["text"] == "私は泳げない。"
        time.sleep(0.01)  # a new modification time for the retrained config
        md = ws.model_dir(MT)
        md.write_config(md.config())
        assert ok(c.post("/api/models/reload"))["reloaded"] == [MT]
