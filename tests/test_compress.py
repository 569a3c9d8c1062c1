"""`seqtool compress`: pruning and int8/bf16 weights give a model folder every command loads."""

from __future__ import annotations

import json

import pytest
import torch

from seqtool.models.quantization import int8_kernel_available, prune_, quantize_rows
from seqtool.store.workspace import Workspace
from seqtool.tasks.compress import compress_model
from seqtool.tasks.import_model import import_model
from seqtool.tasks.mt import MTDataConfig, load_translator, mt_train_config, train_mt
from tests.conftest import assert_clean_error, run_cli

TINY = {"dim": 64, "heads": 2, "ff_dim": 128, "encoder_layers": 1, "decoder_layers": 1, "dropout": 0.0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample=None):
    """A tiny Transformer translator trained on the sample pairs (shared by the tests of this file)."""
    from tests.conftest import SAMPLE

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("compress") / "ws"
    ws = Workspace(root)
    d = SAMPLE / "enja"
    train_mt(
        ws, "mt", d / "train.en", d / "train.ja", d / "dev.en", d / "dev.ja", "transformer", TINY,
        mt_train_config("transformer", epochs=6, batch_tokens=1000, lr=3e-3, warmup=50, average_last=0),
        MTDataConfig(src_vocab=300, tgt_vocab=304),
    )  # fmt: skip
    return ws


def test_quantize_rows_and_prune():
    torch.manual_seed(0)
    w = torch.randn(32, 48)
    q, scale = quantize_rows(w)
    assert q.dtype == torch.int8 and scale.shape == (32,)
    assert (q.float() * scale[:, None] - w).abs().max() <= scale.max() / 2 + 1e-6  # within half a step
    model = torch.nn.Sequential(torch.nn.Embedding(10, 16), torch.nn.Linear(16, 16))
    zeroed = prune_(model, 0.3)
    assert zeroed == int(0.3 * 160) + int(0.3 * 256)
    assert int((model[1].weight == 0).sum()) == int(0.3 * 256)
    assert int((model[1].bias == 0).sum()) == 0  # biases are not pruned


def forced_log_probs(tr, sources: list[str], outputs: list[list[int]]) -> torch.Tensor:
    """Log-probabilities of the next token after each prefix of ``outputs`` (teacher forcing via step())."""
    rows = []
    for text, ids in zip(sources, outputs, strict=True):
        src = torch.tensor([tr.src_tok.encode(text)])
        state = tr.model.start(src, torch.tensor([src.shape[1]]), 1)
        for token in [2, *ids]:  # <bos> then the tokens
            logp, state = tr.model.step(torch.tensor([token]), state)
            rows.append(logp[0])
    return torch.stack(rows)


@pytest.mark.parametrize("quantize", ["bf16", "int8"])
def test_compressed_model_loads_and_scores_like_the_original(trained, quantize, tmp_path):
    if quantize == "int8" and not int8_kernel_available():
        pytest.skip("no int8 weight-only kernel in this torch build")
    ws = trained
    result = compress_model(ws, "mt", f"mt-{quantize}", quantize, 0.0)
    assert result.zeroed == 0
    original, small = ws.model_dir("mt"), ws.model_dir(f"mt-{quantize}")
    cfg = small.config()
    assert cfg["compression"]["quantize"] == quantize and cfg["compression"]["from"] == "mt"
    ratio = small.weights_path.stat().st_size / original.weights_path.stat().st_size
    assert ratio <= (0.34 if quantize == "int8" else 0.52), ratio
    # Reduced precision barely moves the next-token distributions.
    sources = ["I can't swim.", "my father likes cats .", "he is a teacher ."]
    full, fast = load_translator(ws, "mt", "cpu"), load_translator(ws, f"mt-{quantize}", "cpu")
    outputs = [t[0].hypothesis.ids for t in full.translate(sources, beam=1)]
    a, b = forced_log_probs(full, sources, outputs), forced_log_probs(fast, sources, outputs)
    assert (a.exp() - b.exp()).abs().max() < 0.05
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9
    # Through the CLI too, and `models import` accepts the compressed folder.
    out = run_cli("translate", "-w", str(ws.root), "-m", f"mt-{quantize}", "I can't swim.")
    assert out.returncode == 0 and out.stdout.strip(), out.stderr
    imported = import_model(Workspace(tmp_path / "other"), small.path)
    assert imported.kind == "mt"


def test_pruned_model_stores_zeros(trained):
    result = compress_model(trained, "mt", "mt-pruned", "none", 0.5)
    loaded = load_translator(trained, "mt-pruned", "cpu")
    weight = loaded.model.decoder.blocks[0].ff[0].weight
    assert int((weight == 0).sum()) >= weight.numel() // 2
    assert result.zeroed >= result.parameters // 3


def test_cli_compress_table_and_json(trained):
    ws = str(trained.root)
    out = run_cli("compress", "mt", "--out", "mt-bf16-cli", "--limit", "20", "--beam", "2", "-w", ws, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    original, small = report["measured"]
    assert small["weights_bytes"] < 0.52 * original["weights_bytes"]
    assert abs(small["bleu"] - original["bleu"]) < 10 and small["sentences"] == 20
    # `models compare` reports the two folders as they are on disk, and where the small one came from.
    compare = run_cli("models", "compare", "mt", "mt-bf16-cli", "-w", ws, "--json")
    assert compare.returncode == 0, compare.stderr
    rows = {row["name"]: row for row in json.loads(compare.stdout)["models"]}
    for name in ("mt", "mt-bf16-cli"):
        assert rows[name]["weights_bytes"] == trained.model_dir(name).weights_path.stat().st_size
    assert rows["mt"]["compression"] is None
    assert rows["mt-bf16-cli"]["compression"] == {"quantize": "bf16", "prune": 0.0, "from": "mt", "zeroed_weights": 0}
    assert rows["mt-bf16-cli"]["parameters"] == rows["mt"]["parameters"]
    table = run_cli("models", "compare", "mt", "mt-bf16-cli", "-w", ws)
    assert "bf16 of mt" in table.stdout and "weights on disk" in table.stdout, table.stdout


def test_bad_input_is_clean(trained, tmp_path):
    ws = str(trained.root)
    assert_clean_error(run_cli("compress", "mt", "--out", "x", "--quantize", "int4", "-w", ws), "--quantize")
    assert_clean_error(run_cli("compress", "mt", "--out", "x", "--prune", "1.5", "-w", ws), "--prune")
    assert_clean_error(run_cli("compress", "mt", "--out", "mt", "-w", ws), "already exists")
    assert_clean_error(run_cli("compress", "nope", "--out", "x", "-w", ws), "no model named 'nope'")
    assert_clean_error(run_cli("compress", "mt", "--out", "y", "--quantize", "none", "-w", ws), "nothing to do")
    assert not (trained.root / "models" / "x").exists() and not (trained.root / "models" / "y").exists()
    # A compressed folder whose weights do not match its recorded format is refused in one line.
    small = trained.model_dir("mt-bf16-bad")
    compress_model(trained, "mt", "mt-bf16-bad", "bf16", 0.0)
    small.update_config(compression={"quantize": "int8", "prune": 0.0, "from": "mt"})
    assert_clean_error(run_cli("translate", "-m", "mt-bf16-bad", "hello", "-w", ws), "model.safetensors")
