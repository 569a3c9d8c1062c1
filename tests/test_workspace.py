import os
import stat

import pytest

from seqtool.errors import ModelNotFoundError, WorkspaceError
from seqtool.files import atomic_path, atomic_write_text
from seqtool.store.workspace import Workspace


def make_model(ws: Workspace, name: str, kind: str, created: str) -> None:
    md = ws.model_dir(name)
    md.path.mkdir(parents=True)
    md.write_config({"name": name, "kind": kind, "arch": "x", "created": created, "status": "done"})


def test_find_by_name_default_and_latest(tmp_path):
    ws = Workspace(tmp_path)
    make_model(ws, "old", "lm", "2026-01-01")
    make_model(ws, "new", "lm", "2026-02-01")
    make_model(ws, "tr", "mt", "2026-03-01")
    assert ws.find(None, "lm")[0].name == "new"
    ws.set_default("lm", "old")
    assert ws.find(None, "lm")[0].name == "old"
    with pytest.raises(ModelNotFoundError, match="is a mt model"):
        ws.find("tr", "lm")
    with pytest.raises(ModelNotFoundError, match="no model named 'nope'"):
        ws.find("nope", "lm")
    with pytest.raises(ModelNotFoundError, match="no embeddings model"):
        ws.find(None, "embeddings")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 65])
def test_names_are_validated(tmp_path, bad):
    with pytest.raises(WorkspaceError, match="invalid model name"):
        Workspace(tmp_path).model_dir(bad)


def test_lock_excludes_second_trainer(tmp_path):
    md = Workspace(tmp_path).model_dir("m")
    with md.lock(), pytest.raises(WorkspaceError, match="being trained by another process"), md.lock():
        pass


def test_atomic_write_leaves_no_temporaries(tmp_path):
    p = tmp_path / "f.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [q.name for q in tmp_path.iterdir()] == ["f.json"]


def test_remove_clears_default(tmp_path):
    ws = Workspace(tmp_path)
    make_model(ws, "m", "lm", "2026-01-01")
    ws.set_default("lm", "m")
    ws.remove("m")
    assert ws.list_models() == [] and ws.defaults() == {}


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_get_the_usual_file_mode(tmp_path, umask):
    """Not mkstemp's 0600: a saved config or figure is as readable as any file the user creates."""
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "config.json", "{}")
        with atomic_path(tmp_path / "weights.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(previous)
    for name in ("config.json", "weights.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
