"""`seqtool serve` as a real process: SIGTERM while a request is in flight lets that request finish with
its translation, then the process exits cleanly: no traceback, status 0 or -SIGTERM (uvicorn drains the
connections, stops the app's lifespan, hence the micro-batching worker, and then re-raises the signal, as a
process stopped by SIGTERM conventionally reports)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.serve_models import MT, served_workspace  # noqa: F401 - the fixture
from tests.test_serve_browser import free_port


def wait_ready(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "the server exited"
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not answer /health")


def test_sigterm_drains_the_request_in_flight(served_workspace: Path) -> None:  # noqa: F811 - the fixture
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # A lone request waits batch-wait-ms (here 1.5 s) for company before it is decoded: SIGTERM lands while
    # it is queued, i.e. truly in flight.
    cmd = [sys.executable, "-m", "seqtool", "-w", str(served_workspace), "serve", "--port", str(port),
           "--models", MT, "--threads", "1", "--batch-wait-ms", "1500"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        wait_ready(url, proc)
        alone = httpx.post(url + "/api/translate", json={"q": "i can't swim"}, timeout=30).json()
        result: dict[str, object] = {}

        def send() -> None:
            r = httpx.post(url + "/api/translate", json={"q": "i can't swim"}, timeout=30)
            result.update(status=r.status_code, body=r.json())

        client = threading.Thread(target=send)
        started = time.monotonic()
        client.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        client.join(30)
        assert result.get("status") == 200, result
        assert result["body"]["translations"] == alone["translations"]  # type: ignore[index]
        assert time.monotonic() - started >= 1.0  # it really was waiting when the signal came
        status = proc.wait(30)
        stderr = proc.stderr.read() if proc.stderr else ""
        assert status in (0, -signal.SIGTERM), stderr
        assert "Traceback" not in stderr, stderr
        # Nothing listens any more.
        try:
            httpx.get(url + "/health", timeout=1)
            raise AssertionError("the server still answers after SIGTERM")
        except httpx.HTTPError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
