"""seqtool.training.memory: trimming gives a fragmented heap's free pages back to the system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seqtool.errors import OptionError
from seqtool.machine import find_malloc_trim, find_tcmalloc
from seqtool.training.knobs import LOSS_CHUNK_ROWS_ENV, Knobs
from seqtool.training.memory import HeapTrimmer
from tests.conftest import assert_clean_error, run_cli

# In a fresh process: 200 MB in 100 kB blocks (below glibc's mmap threshold, so they live in the heap),
# then all but every 20th freed: the holes between the survivors cannot be returned from the heap's top,
# so their pages stay resident until HeapTrimmer.trim(). Prints the RSS (kB) before and after.
FRAGMENT = """
import gc
from seqtool.machine import release_free_memory
from seqtool.training.memory import HeapTrimmer

def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4

trimmer = HeapTrimmer(every=1)
blocks = [b"x" * 100_000 for _ in range(2_000)]  # written, so resident (calloc'd pages would not be)
survivors = blocks[::20]  # 10 MB kept, spread over the heap
del blocks
gc.collect()
before = rss_kb()
assert trimmer.trim()
print(before, rss_kb())
"""


@pytest.mark.skipif(find_malloc_trim() is None or not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_returns_freed_heap_pages() -> None:
    out = subprocess.run([sys.executable, "-c", FRAGMENT], capture_output=True, text=True, check=True).stdout
    before, after = map(int, out.split())
    assert before > 150_000 and before - after > 100_000, (before, after)  # most of the 190 MB freed went back


@pytest.mark.skipif(find_tcmalloc() is None, reason="tcmalloc is not installed")
@pytest.mark.parametrize("release", ["trimmer.trim()", "release_free_memory()"])
def test_trim_returns_tcmalloc_free_pages(release: str) -> None:
    # Under tcmalloc (what the training commands run with where it is installed) glibc's trim does nothing;
    # both ask tcmalloc to give its free pages back too (a 2M-pair set-up left 0.5 GB of them). The driver
    # calls release_free_memory() between the set-up and encoding.
    env = {**os.environ, "LD_PRELOAD": str(find_tcmalloc())}
    code = FRAGMENT.replace("trimmer.trim()", release)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    before, after = map(int, out.stdout.split())
    assert before > 150_000 and before - after > 100_000, (before, after)


def test_every_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQTOOL_TRIM_EVERY", "0")
    assert HeapTrimmer().every == 0
    monkeypatch.setenv("SEQTOOL_TRIM_EVERY", "often")
    with pytest.raises(OptionError, match="SEQTOOL_TRIM_EVERY must be a number of steps"):
        HeapTrimmer()
    assert HeapTrimmer(every=0).trim() is False  # off: nothing is called
    on = HeapTrimmer(every=3)
    assert on.every == 3 and (on.trim() is (find_malloc_trim() is not None))
    for step in range(1, 7):  # calls at steps 3 and 6 only; must not fail either way
        on.after_step(step)


def test_hidden_knobs_are_checked_before_a_run_starts(monkeypatch: pytest.MonkeyPatch, tmp_path, sample) -> None:
    monkeypatch.setenv(LOSS_CHUNK_ROWS_ENV, "0")
    monkeypatch.setenv("SEQTOOL_CHECKPOINT_STEPS", " 7 ")
    assert (Knobs.from_environment().loss_chunk_rows, Knobs.from_environment().checkpoint_steps) == (0, 7)
    d = sample / "enja"
    args = ["train-mt", "--src", str(d / "train.en"), "--tgt", str(d / "train.ja"), "--epochs", "1",
            "-w", str(tmp_path), "--name", "knob"]  # fmt: skip
    bad = run_cli(*args, env={LOSS_CHUNK_ROWS_ENV: "-1", "SEQTOOL_ALLOCATOR": "system"})
    assert_clean_error(bad, "SEQTOOL_LOSS_CHUNK_ROWS must be a number of rows (0: off), got '-1'")
    assert not (tmp_path / "models" / "knob").exists()  # checked before the run's folder is made
