"""A bounded load test of `seqtool serve` on loopback: throughput and latency under C concurrent clients,
then a burst of malformed and oversized requests.

Starts `seqtool serve` itself on 127.0.0.1 (a free port; nothing else is ever contacted), waits for the
first `/health` 200 (start-up time), then for each C in --clients runs C clients that each send single
dev sentences, one request at a time, until --requests requests are answered or --time-limit seconds
pass (whichever first), and reports requests/s and p50/p99 latency. C=1 is the one-at-a-time baseline:
the speed-up at C is its requests/s divided by C=1's. Then --malformed requests in a row (bad JSON,
wrong types, 10 MB bodies, 100k-character sentences, unknown models, too many sentences): every one
must be answered with a 4xx and a JSON error; afterwards the server must still translate as before,
and its resident memory is compared with the value before the burst. The server is stopped (SIGTERM)
at the end. Prints a table and, with --json, one JSON document.

    python benchmarks/serve_load.py -w workspace --model demo-mt --clients 1,4,16,64 --requests 400 \\
        --time-limit 60 --threads 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def load_level(base: str, model: str, sentences: list[str], clients: int, requests: int, limit_s: float) -> dict:
    latencies: list[float] = []
    failures = 0
    next_index = 0
    deadline = time.monotonic() + limit_s

    async def client(c: httpx.AsyncClient) -> None:
        nonlocal next_index, failures
        while next_index < requests and time.monotonic() < deadline:
            text = sentences[next_index % len(sentences)]
            next_index += 1
            t0 = time.perf_counter()
            r = await c.post(f"{base}/api/translate", json={"q": text, "model": model})
            latencies.append(time.perf_counter() - t0)
            failures += r.status_code != 200

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {
        "clients": clients, "requests": len(latencies), "failures": failures, "seconds": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 2), "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
    }  # fmt: skip


def malformed_requests(model: str, n: int) -> list[tuple[str, dict]]:
    kinds = [
        ("bad JSON", {"content": b'{"q": "unterminated'}),
        ("wrong type", {"json": {"q": 12, "model": model}}),
        ("wrong nested type", {"json": {"q": ["a", None], "model": model}}),
        ("100k characters", {"json": {"q": "a" * 100_000, "model": model}}),
        ("unknown model", {"json": {"q": "hello", "model": "no-such-model"}}),
        ("unknown key", {"json": {"q": "hello", "beams": 3}}),
        ("too many sentences", {"json": {"q": ["hi"] * 10_000, "model": model}}),
        ("not UTF-8", {"content": b"\xff\xfe\xfa"}),
    ]
    out = [kinds[i % len(kinds)] for i in range(n)]
    for i in range(0, n, 50):  # one 10 MB body in 50: bounded traffic on a shared machine
        out[i] = ("10 MB body", {"content": b"[" + b"1," * 5_000_000 + b"1]"})
    return out


async def malformed(base: str, model: str, n: int) -> dict:
    answered, bad = 0, []
    async with httpx.AsyncClient(timeout=120) as c:
        for kind, kwargs in malformed_requests(model, n):
            try:
                r = await c.post(f"{base}/api/translate", headers={"content-type": "application/json"}, **kwargs)
                is_json_error = 400 <= r.status_code < 500 and isinstance(r.json().get("error"), str)
            except (httpx.HTTPError, ValueError) as e:
                is_json_error, r = False, e
            answered += is_json_error
            if not is_json_error and len(bad) < 5:
                bad.append(f"{kind}: {r}")
    return {"sent": n, "answered_4xx_json": answered, "problems": bad}


async def translate_once(base: str, model: str, text: str) -> list[str]:
    async with httpx.AsyncClient(timeout=120) as c:
        r = await c.post(f"{base}/api/translate", json={"q": [text], "model": model, "beam": 5})
        r.raise_for_status()
        return [t["text"] for t in r.json()["translations"]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-w", "--workspace", required=True)
    p.add_argument("--model", required=True, help="the translator to load (only it is served)")
    p.add_argument("--dev", type=Path, default=ROOT / "sample_data" / "enja" / "dev.en", help="source sentences")
    p.add_argument("--clients", default="1,4,16,64")
    p.add_argument("--requests", type=int, default=400, help="requests per concurrency level (at most)")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds per concurrency level (at most)")
    p.add_argument("--malformed", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    sentences = [line.strip() for line in args.dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "seqtool", "serve", "--host", "127.0.0.1", "--port", str(port), "-w",
           args.workspace, "--models", args.model, "--threads", str(args.threads)]  # fmt: skip
    t0 = time.perf_counter()
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if server.poll() is not None:
                sys.exit(f"the server exited: {server.stderr.read().decode() if server.stderr else ''}")
            if time.perf_counter() - t0 > 120:
                sys.exit("the server did not answer /health within 120 s")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        startup = time.perf_counter() - t0
        before = asyncio.run(translate_once(base, args.model, sentences[0]))
        levels = []
        for c in (int(x) for x in args.clients.split(",")):
            levels.append(asyncio.run(load_level(base, args.model, sentences, c, args.requests, args.time_limit)))
        base_rate = levels[0]["requests_per_s"] if levels and levels[0]["clients"] == 1 else None
        for level in levels:
            level["speedup_vs_1"] = round(level["requests_per_s"] / base_rate, 2) if base_rate else None
        rss_before = rss_mb(server.pid)
        burst = asyncio.run(malformed(base, args.model, args.malformed)) if args.malformed else None
        rss_after = rss_mb(server.pid)
        after = asyncio.run(translate_once(base, args.model, sentences[0]))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    result = {
        "model": args.model, "threads": args.threads, "startup_s": round(startup, 2), "levels": levels,
        "malformed": burst, "rss_mb_before_burst": round(rss_before, 1), "rss_mb_after_burst": round(rss_after, 1),
        "translates_the_same_after": before == after, "server_exit_code": server.returncode,
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"{args.model}: first /health 200 after {startup:.2f}s; {args.threads} torch threads")
    print(f"{'clients':>7} {'requests':>8} {'failed':>6} {'req/s':>8} {'x vs 1':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for lv in levels:
        print(f"{lv['clients']:>7} {lv['requests']:>8} {lv['failures']:>6} {lv['requests_per_s']:>8} "
              f"{lv['speedup_vs_1'] or '-':>7} {lv['p50_ms']:>8} {lv['p99_ms']:>8}")  # fmt: skip
    if burst:
        print(f"malformed: {burst['answered_4xx_json']}/{burst['sent']} answered with a 4xx JSON error "
              f"{burst['problems'] or ''}; RSS {rss_before:.0f} -> {rss_after:.0f} MB; "
              f"same translation after: {before == after}")  # fmt: skip
    print(f"server exit code after SIGTERM: {server.returncode}")


if __name__ == "__main__":
    main()
