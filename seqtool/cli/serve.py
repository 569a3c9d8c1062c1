"""`seqtool serve`: the HTTP API and web page (seqtool.serve), run by uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import DeviceOpt, ThreadsOpt, WorkspaceOpt, console, setup_torch


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve", rich_help_panel=panels.START)
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated model names to serve \\[default: every finished model].")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="SEQTOOL_TOKEN", help="Require 'Authorization: Bearer TOKEN' on every /api/ request."),
    ] = None,
    lazy: Annotated[bool, typer.Option(help="Load each model on its first request instead of at start.")] = False,
    max_chars: Annotated[int, typer.Option(help="Characters per sentence.", min=1)] = 1000,
    max_sentences: Annotated[int, typer.Option(help="Sentences per translate request.", min=1)] = 64,
    max_body_bytes: Annotated[int, typer.Option(help="Request body size in bytes.", min=1)] = 1_000_000,
    max_beam: Annotated[int, typer.Option(help="Largest beam a request may ask for.", min=1)] = 16,
    batch_wait_ms: Annotated[
        float, typer.Option(help="Micro-batching: how long a batch waits for more requests.", min=0)
    ] = 5.0,
    batch_tokens: Annotated[int, typer.Option(help="Micro-batching: source tokens that close a batch.", min=1)] = 2048,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the workspace's models: a JSON API (schema at /docs) and a web page at /."""
    from seqtool.errors import OptionError

    if not is_loopback(host) and not token:
        raise OptionError(f"--host {host} is reachable from other machines: give --token TOKEN (or SEQTOOL_TOKEN)")
    setup_torch(threads)  # once, before any worker thread: no oversubscription with the event loop
    import uvicorn

    from seqtool.serve.app import create_app
    from seqtool.serve.limits import Limits
    from seqtool.store.workspace import Workspace

    names = [n.strip() for n in models.split(",") if n.strip()] if models else None
    limits = Limits(max_chars=max_chars, max_sentences=max_sentences, max_body_bytes=max_body_bytes, max_beam=max_beam)
    api = create_app(
        Workspace(workspace), names=names, lazy=lazy, limits=limits, token=token, device=device,
        max_wait_s=batch_wait_ms / 1000, max_tokens=batch_tokens,
    )  # fmt: skip
    shown = f"[{host}]" if ":" in host else host
    served = ", ".join(sorted(api.state.registry.models)) or "none (train one or run `seqtool demo`)"
    console.print(f"seqtool serve: models {served}\nopen http://{shown}:{port}/ (API schema at /docs; Ctrl-C stops)")
    uvicorn.run(api, host=host, port=port, log_level="warning", timeout_graceful_shutdown=30)
