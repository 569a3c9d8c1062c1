"""`POST /api/respond`: a dialogue model (HRED) served like every other kind: the library's replies, its
errors as JSON 4xx, and the server still answering afterwards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from seqtool.models.hred import DialogConfig
from seqtool.serve.app import create_app
from seqtool.serve.limits import Limits
from seqtool.store.workspace import Workspace
from seqtool.tasks.dialog import dialog_train_config, load_dialog, respond, train_dialog
from tests.conftest import SAMPLE
from tests.serve_models import LM, served_workspace  # noqa: F401 - the fixture
from tests.test_serve_api import error, ok

HISTORY = ["i like red .", "really ?"]


@pytest.fixture(scope="module")
def ws(served_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:  # noqa: F811
    """The served test workspace plus a tiny HRED (a copy: the shared workspace stays as it is)."""
    torch.set_num_threads(1)
    ws = Workspace(shutil.copytree(served_workspace, tmp_path_factory.mktemp("dialog") / "ws"))
    d = SAMPLE / "dialog"
    cfg = DialogConfig(emb_dim=32, hidden=32, context_hidden=32, dropout=0.0)
    train_dialog(ws, "chat", d / "recall.train", d / "recall.dev", cfg,
                 dialog_train_config(epochs=2, batch_tokens=512, lr=3e-3))  # fmt: skip
    return ws


@pytest.fixture(scope="module")
def client(ws: Workspace):
    with TestClient(create_app(ws, device="cpu", limits=Limits(max_chars=200, max_sentences=8))) as c:
        yield c


def test_respond_gives_the_library_replies(client: TestClient, ws: Workspace) -> None:
    listed = {m["name"]: m for m in ok(client.get("/api/models"))["models"]}
    assert listed["chat"]["kind"] == "dialog" and listed["chat"]["served"]
    body = ok(client.post("/api/respond", json={"history": HISTORY, "num": 2, "seed": 3}))
    expected = respond(load_dialog(ws, "chat", "cpu"), HISTORY, 2, 0.0, 3)
    assert body["model"] == "chat" and body["history"] == HISTORY and body["replies"] == expected
    assert all(isinstance(r, str) for r in body["replies"]) and len(body["replies"]) == 2


def test_a_dialogue_model_reports_the_language_it_was_trained_on(client: TestClient, ws: Workspace) -> None:
    """/api/models gave a dialogue model's languages as [""] (it read the embeddings' "language" key)."""
    listed = {m["name"]: m for m in ok(client.get("/api/models"))["models"]}
    trained_on = ws.model_dir("chat").config()["tokenizer"]["lang"]
    assert trained_on and listed["chat"]["languages"] == [trained_on]


def test_respond_errors_are_json_and_the_server_keeps_answering(client: TestClient) -> None:
    error(client.post("/api/respond", json={"history": []}), 422, "history is empty")
    error(client.post("/api/respond", json={"history": ["  "]}), 422, "history is empty")
    error(client.post("/api/respond", json={"history": ["x" * 201]}), 413, "--max-chars")
    error(client.post("/api/respond", json={"history": ["hi ."] * 9}), 413, "over the limit of 8")
    error(client.post("/api/respond", json={"history": HISTORY, "model": "nope"}), 404, "nope")
    error(client.post("/api/respond", json={"history": HISTORY, "model": LM}), 422, "needs a dialog model")
    error(client.post("/api/respond", json={"history": "i like red ."}), 422)
    assert ok(client.post("/api/respond", json={"history": HISTORY}))["replies"]
