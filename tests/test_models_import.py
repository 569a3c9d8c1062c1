"""`seqtool models import`: valid folders come in and work; every mismatch is one line, nothing written.

The model folders here are built directly (tiny untrained models with word vocabularies), so the
tests cost milliseconds; :func:`make_lm_folder` and :func:`make_mt_folder` are reused by the
safe-loading and error-catalogue tests.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from seqtool.errors import SeqtoolError
from seqtool.store.workspace import Workspace
from seqtool.tasks.import_model import import_model
from seqtool.tasks.lm import load_lm, predict_next
from seqtool.tasks.mt import load_translator
from tests.conftest import (
    JA,
    assert_clean_error,
    make_embeddings_folder,
    make_lm_folder,
    make_mt_folder,
    run_cli,
    run_main,
    snapshot,
)


@pytest.fixture
def workspace_with_a_model(tmp_path: Path) -> Workspace:
    """A workspace that already holds one model, so "unchanged" has something to compare."""
    ws = Workspace(tmp_path / "ws")
    import_model(ws, make_lm_folder(tmp_path / "first"), "existing")
    return ws


def test_import_lm_and_mt_then_use_them(tmp_path, workspace_with_a_model):
    ws = workspace_with_a_model
    lm_src = make_lm_folder(tmp_path / "from-a-friend")
    (lm_src / "checkpoint.pt").write_bytes(b"training state from elsewhere: never copied")
    result = import_model(ws, lm_src)
    assert result.name == "tiny-lm" and result.kind == "lm" and "checkpoint.pt" in result.skipped
    assert not (ws.models_dir / "tiny-lm" / "checkpoint.pt").exists()
    lm = load_lm(ws, "tiny-lm", "cpu")
    assert len(predict_next(lm, "my father", 3)) == 3
    assert lm.config["imported"]["from"] == str(lm_src.resolve())

    mt_src = make_mt_folder(tmp_path / "mt")
    import_model(ws, mt_src, "translator")
    tr = load_translator(ws, "translator", "cpu")
    # The imported translator runs with the very weights of the folder it came from, and speaks its
    # target vocabulary (the untrained model's words are arbitrary, but they are Japanese pieces).
    original = load_file(str(mt_src / "model.safetensors"))
    loaded = tr.model.state_dict()
    assert set(original) <= set(loaded) and all(torch.equal(original[k], loaded[k]) for k in original)
    (out,) = tr.translate(["my father likes tea ."], beam=2, tokenized=True)
    assert out[0].text and set(out[0].text.split()) <= set(JA), out
    assert not [p for p in ws.root.iterdir() if p.name.startswith(".import-")]


def test_import_embeddings_through_their_loader(tmp_path, workspace_with_a_model):
    ws = workspace_with_a_model
    result = import_model(ws, make_embeddings_folder(tmp_path / "vec"))
    assert result.kind == "embeddings" and result.parameters is None
    assert (ws.models_dir / "tiny-vec" / "vectors.bin").exists()
    broken = make_embeddings_folder(tmp_path / "broken")
    (broken / "vectors.bin").write_bytes(b"\x00" * 10)
    before = snapshot(ws.root)
    with pytest.raises(SeqtoolError, match="vectors"):
        import_model(ws, broken, "broken")
    assert snapshot(ws.root) == before


def _edit_config(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        cfg = json.loads((folder / "config.json").read_text())
        change(cfg)
        (folder / "config.json").write_text(json.dumps(cfg))

    return apply


def _edit_weights(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        tensors = load_file(str(folder / "model.safetensors"))
        change(tensors)
        save_file(tensors, str(folder / "model.safetensors"))

    return apply


def _drop_first_tensor(tensors: dict) -> None:
    del tensors[sorted(tensors)[0]]


BAD_LM_FOLDERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "no config.json": (lambda f: (f / "config.json").unlink(), "config.json: missing"),
    "config not JSON": (lambda f: (f / "config.json").write_text("{nope"), "not valid JSON"),
    "unknown kind": (_edit_config(lambda c: c.update(kind="gan")), "'kind' must be one of"),
    "missing section": (_edit_config(lambda c: c.pop("model")), "missing 'model'"),
    "unknown architecture": (
        _edit_config(lambda c: c["model"].update(cell="mamba")),
        "config.json: `cell` must be one of",
    ),
    "unknown setting": (_edit_config(lambda c: c["model"].update(exploit=1)), "unknown model setting(s) exploit"),
    "wrong value type": (_edit_config(lambda c: c["model"].update(layers="two")), "does not describe a model"),
    "tokenizer file missing": (lambda f: (f / "tokenizer.vocab.json").unlink(), "tokenizer.vocab.json is missing"),
    "tokenizer path escapes": (
        _edit_config(lambda c: c["tokenizer"].update(file="../tokenizer.vocab.json")),
        "must be a file name inside the model folder",
    ),
    "unknown tokenizer kind": (_edit_config(lambda c: c["tokenizer"].update(kind="magic")), "needs a 'kind'"),
    "vocabulary size mismatch": (
        _edit_config(lambda c: c["model"].update(vocab_size=c["model"]["vocab_size"] + 1)),
        "but the model expects",
    ),
    "tensor shape mismatch": (_edit_config(lambda c: c["model"].update(emb_dim=24, hidden=24)), "has shape"),
    "missing tensor": (_edit_weights(_drop_first_tensor), "tensors do not match the model in config.json (missing"),
    "extra tensor": (_edit_weights(lambda t: t.update(extra=torch.zeros(2))), "unexpected extra"),
    "weights not safetensors": (
        lambda f: (f / "model.safetensors").write_bytes(b"garbage" * 100),
        "not a readable safetensors file",
    ),
    "weights file missing": (lambda f: (f / "model.safetensors").unlink(), "model.safetensors is missing"),
    "broken metrics history": (lambda f: (f / "metrics.jsonl").write_text("{torn\n{}\n"), "metrics.jsonl:1"),
}


@pytest.mark.parametrize("case", sorted(BAD_LM_FOLDERS))
def test_bad_folders_are_refused_in_one_line_and_nothing_is_written(tmp_path, capsys, workspace_with_a_model, case):
    ws = workspace_with_a_model
    mutate, message = BAD_LM_FOLDERS[case]
    source = make_lm_folder(tmp_path / "src")
    mutate(source)
    before = snapshot(ws.root)
    code, _, err = run_main(capsys, "models", "import", str(source), "--name", "incoming", "-w", str(ws.root))
    assert code == 2, err
    assert message in err, err
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(ws.root) == before
    assert sorted(p.name for p in ws.root.iterdir()) == sorted(before_top(before))


def before_top(files: dict[str, bytes]) -> set[str]:
    return {name.split(os.sep)[0] for name in files}


def test_translator_mismatches_and_taken_names(tmp_path, workspace_with_a_model):
    ws = workspace_with_a_model
    before = snapshot(ws.root)
    wrong_arch = make_mt_folder(tmp_path / "a")
    _edit_config(lambda c: c.update(model_arch="rnn"))(wrong_arch)
    with pytest.raises(SeqtoolError, match="`arch` must be one of"):
        import_model(ws, wrong_arch)
    wrong_vocab = make_mt_folder(tmp_path / "b")
    _edit_config(lambda c: c["model"].update(tgt_vocab=5))(wrong_vocab)
    with pytest.raises(SeqtoolError, match="target tokenizer has 15 entries but the model expects 5"):
        import_model(ws, wrong_vocab)
    with pytest.raises(SeqtoolError, match="'existing' already exists"):
        import_model(ws, make_lm_folder(tmp_path / "c"), "existing")
    with pytest.raises(SeqtoolError, match="invalid model name"):
        import_model(ws, make_lm_folder(tmp_path / "d"), "../escape")
    with pytest.raises(SeqtoolError, match="no such folder"):
        import_model(ws, tmp_path / "nowhere")
    with pytest.raises(SeqtoolError, match="not a folder"):
        import_model(ws, wrong_arch / "config.json")
    assert snapshot(ws.root) == before


def test_failed_import_into_a_new_workspace_leaves_no_workspace(tmp_path):
    source = make_lm_folder(tmp_path / "src")
    _edit_config(lambda c: c["model"].update(emb_dim=24, hidden=24))(source)
    ws = Workspace(tmp_path / "new-ws")
    with pytest.raises(SeqtoolError, match="has shape"):
        import_model(ws, source)
    assert not ws.root.exists()


def test_cli_import_end_to_end(tmp_path):
    ws = tmp_path / "ws"
    source = make_mt_folder(tmp_path / "downloaded")
    ok = run_cli("models", "import", str(source), "--name", "friend-mt", "-w", str(ws), "--json")
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["name"] == "friend-mt" and summary["kind"] == "mt" and summary["parameters"] > 0
    translated = run_cli("translate", "my father likes tea .", "-m", "friend-mt", "-w", str(ws), "--beam", "2")
    assert translated.returncode == 0, translated.stderr
    shutil.copy(source / "src.vocab.json", source / "tgt.vocab.json")  # wrong target vocabulary
    bad = run_cli("models", "import", str(source), "--name", "other", "-w", str(ws))
    assert_clean_error(bad, "target tokenizer has")
    assert not (ws / "models" / "other").exists()
