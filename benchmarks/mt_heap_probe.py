"""Where does train-mt's memory go? RSS and glibc's heap statistics at each stage and every 5th step.

Runs any seqtool command line in this process, with the training loop's functions wrapped to record
``/proc/self/statm`` and ``mallinfo2()`` (heap size, bytes in use, bytes free inside the heap, bytes in
separate mmaps), one JSON line per record, to PROBE_LOG (default heap_probe.jsonl). glibc only; run it
with SEQTOOL_ALLOCATOR=system python3 ... (it does not restart itself with tcmalloc).

    python3 benchmarks/mt_heap_probe.py -w WS train-mt --src train.en --tgt train.ja \\
        --dev-src dev.en --dev-tgt dev.ja --max-minutes 3 --threads 2 --no-tune-decoding --json
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from typing import Any

FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]


LIBC = ctypes.CDLL(None)
LIBC.mallinfo2.restype = MallInfo2
START = time.time()
LOG = open(os.environ.get("PROBE_LOG", "heap_probe.jsonl"), "w")  # noqa: SIM115 - open for the whole run


def record(tag: str) -> None:
    info = LIBC.mallinfo2()
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    mb = {
        "rss": rss,
        "heap": info.arena,
        "heap_used": info.uordblks,
        "heap_free": info.fordblks,
        "mmapped": info.hblkhd,
    }
    line = {"t": round(time.time() - START, 1), "tag": tag, **{k: v >> 20 for k, v in mb.items()}}
    print(json.dumps(line), file=LOG, flush=True)


def main() -> None:
    record("start")
    import seqtool.tasks.driver as driver
    import seqtool.tasks.mt as mt
    import seqtool.training.trainer as trainer

    steps = [0]
    status, loss, step, end_of_epoch = (
        driver.status,
        trainer.masked_loss,
        trainer.Trainer.train_step,
        trainer.Trainer.end_of_epoch,
    )

    def probed_status(progress: Any, message: str) -> None:
        record("status: " + message[:60])
        status(progress, message)

    def probed_loss(model: Any, batch: Any, label_smoothing: float = 0.0) -> Any:
        out = loss(model, batch, label_smoothing)
        if model.training and steps[0] % 5 == 0:
            record(f"after forward {steps[0]} {tuple(batch.tgt_out.shape)}")
        return out

    def probed_step(self: Any, batch: Any) -> Any:
        out = step(self, batch)
        steps[0] += 1
        if steps[0] % 5 == 0:
            record(f"step {steps[0]}")
        return out

    def probed_epoch(self: Any, *args: Any) -> Any:
        record("evaluation start")
        out = end_of_epoch(self, *args)
        record("evaluation end")
        return out

    driver.status = mt.status = probed_status
    trainer.masked_loss = probed_loss
    trainer.Trainer.train_step, trainer.Trainer.end_of_epoch = probed_step, probed_epoch
    from seqtool.cli import main as seqtool_main

    record("imported")
    seqtool_main(sys.argv[1:])


if __name__ == "__main__":
    main()
