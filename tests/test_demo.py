"""`seqtool demo`, the README's first command, with its smallest budget (`--quick`): it trains the three
models, uses them, and leaves a workspace whose commands give what the demo showed."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_quick_demo_trains_uses_and_leaves_working_models(tmp_path):
    w = str(tmp_path / "ws")
    demo = run_cli("demo", "--quick", "--threads", "1", "-w", w)
    assert demo.returncode == 0, demo.stderr[-2000:]
    shown = demo.stdout.splitlines()
    for section in ("1. a language model", "2. an English -> Japanese translator", "3. word embeddings", "done"):
        assert any(section in line for line in shown), section
    models = {m["name"]: m for m in json.loads(run_cli("models", "-w", w, "--json").stdout)["models"]}
    assert set(models) == {"demo-lm", "demo-mt", "demo-embeddings"}
    assert json.loads((tmp_path / "ws" / "defaults.json").read_text())["mt"] == "demo-mt"

    # What the demo printed is what the workspace's commands now answer.
    def after(command: str) -> list[str]:
        i = next(n for n, line in enumerate(shown) if line.startswith("$ seqtool " + command))
        return [line.strip() for line in shown[i + 1 : i + 6]]

    translation = run_cli("translate", "i can't swim", "-w", w)
    assert translation.returncode == 0 and translation.stdout.strip() == after('translate "i can\'t swim"')[0]
    top = json.loads(run_cli("predict-next", "i can 't", "--top", "5", "-w", w, "--json").stdout)["results"]
    printed = [line.split() for line in after('predict-next "i can \'t"')]
    assert [(x["word"], f"{x['probability']:.3f}") for x in top] == [(p[0], p[1]) for p in printed]
    similar = run_cli("similar", "家族", "--top", "5", "-w", w, "--json")
    assert similar.returncode == 0, similar.stderr
