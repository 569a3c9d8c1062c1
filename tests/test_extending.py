"""docs/extending.md, done: a new LM cell, a new decoding strategy and a new task kind, each one file
under tests/plugins/ that registers itself, trained, decoded, listed and served through the CLI and the
HTTP API without a line of seqtool/ knowing about them.

The CLI finds the plugins through ``SEQTOOL_PLUGINS`` (seqtool.plugins); the in-process server tests
import them as modules, which registers them the same way.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seqtool.metrics import unigram_perplexity
from tests.conftest import SAMPLE, assert_clean_error, corpus_lines, run_cli

PLUGINS = Path(__file__).resolve().parent / "plugins"
PACKAGE = Path(__file__).resolve().parent.parent / "seqtool"
LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_e48442e"


def with_plugin(name: str) -> dict[str, str]:
    return {"SEQTOOL_PLUGINS": str(PLUGINS / f"{name}.py")}


def test_the_additions_live_outside_seqtool() -> None:
    """The three names appear nowhere in the package: registering them is all it takes."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in ("nplm", "raw-beam", "ReverseKind", '"reverse"'):
            assert name not in text, (path, name)


# ----- (a) an LM cell


@pytest.fixture(scope="module")
def nplm_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("nplm") / "ws"
    done = run_cli("train", "lm", "--set", "cell=nplm", "--set", "order=3", "--set", "emb_dim=32", "--set",
                   "hidden=64", "--set", "epochs=3", "--set", "dropout=0", "--name", "nplm", "--threads", "1",
                   "--workspace", str(ws), "--json", env=with_plugin("nplm_cell"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return ws


def test_a_new_cell_learns_and_generates(nplm_workspace: Path) -> None:
    cfg = json.loads((nplm_workspace / "models" / "nplm" / "config.json").read_text())
    assert cfg["arch"] == "nplm-lm" and cfg["model"]["order"] == 3 and "latent" not in cfg["model"]
    baseline = unigram_perplexity(corpus_lines(SAMPLE / "enja/train.en"), corpus_lines(SAMPLE / "enja/dev.en"))
    assert cfg["best"]["value"] < 0.8 * baseline  # it learned more than word frequencies
    env = with_plugin("nplm_cell")
    nxt = run_cli("predict-next", "-m", "nplm", "i am", "--json", "-w", str(nplm_workspace), env=env)
    assert nxt.returncode == 0, nxt.stderr
    assert len(json.loads(nxt.stdout)["results"]) == 5
    gen = run_cli("generate", "-m", "nplm", "--prompt", "i", "--seed", "1", "--json", "-w", str(nplm_workspace),
                  env=env)  # fmt: skip
    assert gen.returncode == 0 and gen.stdout.strip(), gen.stderr
    listed = run_cli("models", "--json", "-w", str(nplm_workspace), env=env)
    assert [m["arch"] for m in json.loads(listed.stdout)["models"]] == ["nplm-lm"]


def test_a_new_cell_is_served(nplm_workspace: Path) -> None:
    import tests.plugins.nplm_cell  # noqa: F401  (registers the cell in this process)
    from seqtool.serve.app import create_app
    from seqtool.store.workspace import Workspace

    with TestClient(create_app(Workspace(nplm_workspace), device="cpu")) as client:
        answer = client.post("/api/predict-next", json={"text": "i am", "top": 3})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["results"]) == 3


def test_a_cell_setting_of_another_cell_is_a_clean_error(tmp_path: Path) -> None:
    bad = run_cli("train", "lm", "--set", "cell=nplm", "--set", "latent=4", "-w", str(tmp_path),
                  env=with_plugin("nplm_cell"))  # fmt: skip
    assert_clean_error(bad, "--latent does not apply to --cell nplm")
    assert not (tmp_path / "models").exists()


# ----- (b) a decoding strategy


@pytest.fixture
def legacy_ws(tmp_path: Path) -> Path:
    return shutil.copytree(LEGACY / "models", tmp_path / "ws" / "models").parent


def test_a_new_strategy_decodes_through_translate_and_the_server(legacy_ws: Path) -> None:
    args = ("translate", "-m", "mt-gru", "--engine", "torch", "--json", "-w", str(legacy_ws), "--input",
            str(LEGACY / "inputs" / "translate.en"))  # fmt: skip
    raw = run_cli(*args, "--strategy", "raw-beam", "--beam", "4", env=with_plugin("raw_beam"))
    assert raw.returncode == 0, raw.stderr
    same = run_cli(*args, "--beam", "4", "--length-penalty", "0")  # what raw-beam is defined to be
    assert json.loads(raw.stdout) == json.loads(same.stdout)
    assert_clean_error(run_cli(*args, "--strategy", "raw-beam"), "--strategy must be one of")

    import tests.plugins.raw_beam  # noqa: F401
    from seqtool.serve.app import create_app
    from seqtool.store.workspace import Workspace

    with TestClient(create_app(Workspace(legacy_ws), device="cpu")) as client:
        q = "i can 't swim ."
        body = {"q": q, "model": "mt-gru", "beam": 4}
        served = client.post("/api/translate", json={**body, "strategy": "raw-beam"}).json()
        reference = client.post("/api/translate", json={**body, "length_penalty": 0.0}).json()
        assert served["translations"] == reference["translations"]
        unknown = client.post("/api/translate", json={**body, "strategy": "nope"})
        assert unknown.status_code == 422 and "--strategy must be one of" in unknown.json()["error"]


# ----- (c) a task kind


@pytest.fixture(scope="module")
def reverse_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sentences of a dozen words, 2-5 long; the kind learns to write them backwards."""
    root = tmp_path_factory.mktemp("reverse")
    rng = random.Random(0)
    words = ["red", "blue", "green", "cat", "dog", "fish", "one", "two", "three", "sun", "moon", "tree"]
    for name, n in (("train", 2000), ("dev", 100)):
        lines = (" ".join(rng.choices(words, k=rng.randint(2, 5))) for _ in range(n))
        (root / f"{name}.txt").write_text("".join(line + "\n" for line in lines))
    done = run_cli("train", "reverse", "--set", f"train={root / 'train.txt'}", "--set", f"dev={root / 'dev.txt'}",
                   "--set", "emb_dim=32", "--set", "hidden=64", "--set", "epochs=8", "--threads", "1",
                   "-w", str(root / "ws"), env=with_plugin("reverse_kind"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root / "ws"


def test_a_new_kind_trains_predicts_and_is_listed(reverse_workspace: Path, tmp_path: Path) -> None:
    env = with_plugin("reverse_kind")
    cfg = json.loads((reverse_workspace / "models" / "reverse" / "config.json").read_text())
    assert cfg["kind"] == "reverse" and cfg["best"]["metric"] == "dev_accuracy"
    assert cfg["best"]["value"] > 0.5  # exact reversals of unseen sentences; chance is ~0
    predicted = run_cli("predict", "-m", "reverse", "red cat sun", "-w", str(reverse_workspace), env=env)
    assert predicted.returncode == 0, predicted.stderr
    output = json.loads(predicted.stdout)["output"]
    listed = json.loads(run_cli("models", "--json", "-w", str(reverse_workspace), env=env).stdout)["models"]
    assert [(m["name"], m["kind"]) for m in listed] == [("reverse", "reverse")]
    # models import round-trips it: the copy answers the same
    other = tmp_path / "other"
    imported = run_cli("models", "import", str(reverse_workspace / "models" / "reverse"), "-w", str(other), env=env)
    assert imported.returncode == 0, imported.stderr
    again = run_cli("predict", "-m", "reverse", "red cat sun", "-w", str(other), env=env)
    assert json.loads(again.stdout)["output"] == output
    # without its plugin, the kind is unknown: one line that says what is missing
    assert_clean_error(run_cli("predict", "-m", "reverse", "red cat", "-w", str(other)), "needs its plugin")


def test_a_new_kind_is_served(reverse_workspace: Path) -> None:
    import tests.plugins.reverse_kind  # noqa: F401
    from seqtool.serve.app import create_app
    from seqtool.store.workspace import Workspace

    with TestClient(create_app(Workspace(reverse_workspace), device="cpu")) as client:
        models = client.get("/api/models").json()["models"]
        assert [(m["name"], m["kind"], m["served"]) for m in models] == [("reverse", "reverse", True)]
        answer = client.post("/api/predict", json={"model": "reverse", "text": "one two three"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["kind"] == "reverse" and isinstance(answer.json()["output"], str)
        missing = client.post("/api/predict", json={"model": "nope", "text": "one"})
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
