"""`embedrec serve MODEL_DIR`: the HTTP service (embedrec.service) under uvicorn."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated, Optional

import typer
import uvicorn

import embedrec
from embedrec.cli.common import app, err, handle_errors, note
from embedrec.service import FeedbackStore, default_url

LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# the usual other spellings of uvicorn's levels
LOG_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical", "err": "error"}


def checked_log_level(level: str) -> str:
    """uvicorn's name of `level` (any case; 'warn' is 'warning'), or a DataError naming the
    option and the levels there are."""
    name = LOG_LEVEL_ALIASES.get(level.lower(), level.lower())
    if name not in uvicorn.config.LOG_LEVELS:
        raise embedrec.DataError(
            f"--log-level {level!r} is not a log level; one of: "
            + ", ".join(uvicorn.config.LOG_LEVELS)
        )
    return name


def check_listen(host: str, port: int) -> None:
    """Whether this process can listen on `host`:`port`, tried the way uvicorn binds (address
    reuse on); a DataError naming both when it cannot (in use, no such address)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:  # socket.gaierror among them
        raise embedrec.DataError(
            f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose another --host "
            "or --port"
        ) from None


@app.command()
@handle_errors
def serve(
    model_dir: Annotated[Path, typer.Argument(help="A model directory written by train.")],
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to bind.", min=0, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes, each loading the model.", min=1)
    ] = 1,
    db: Annotated[
        Optional[str],
        typer.Option(
            "--db",
            help="Feedback database URL: sqlite:///path or postgresql://user@host/db "
            "[default: SQLite at MODEL_DIR.feedback.db beside the model].",
        ),
    ] = None,
    token: Annotated[
        Optional[str],
        typer.Option(
            "--token",
            envvar="EMBEDREC_TOKEN",
            help="Require 'Authorization: Bearer TOKEN' on write and admin endpoints.",
        ),
    ] = None,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            help="Compute threads per worker (one request's work is small: more only contend).",
            min=1,
        ),
    ] = 1,
    cache: Annotated[
        int,
        typer.Option(
            "--cache",
            help="Lists of known users without feedback kept per loaded model (0: none).",
            min=0,
        ),
    ] = 10_000,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "info",
) -> None:
    """Serve recommendations, feedback, item neighbours and the web explorer over HTTP.

    The API is documented at /docs; the explorer is at /. SIGHUP (or POST /admin/reload)
    loads the model directory again and swaps it in without dropping requests.
    """
    log_level = checked_log_level(log_level)
    check_listen(host, port)  # before the model loads: a port in use is said at once
    if not token and not is_loopback(host):
        err.print(
            f"warning: serving on {host} without a token: anyone who reaches it can write "
            "ratings and reload models; pass --token or set EMBEDREC_TOKEN",
            highlight=False,
            markup=False,
        )
    embedrec.load(model_dir)  # a model that does not load fails here, in one line
    url = db or default_url(model_dir)
    FeedbackStore(url).close()  # so does a database that cannot be opened
    os.environ["EMBEDREC_MODEL_DIR"] = str(model_dir)
    os.environ["EMBEDREC_DB"] = url
    os.environ["EMBEDREC_TOKEN"] = token or ""
    os.environ["EMBEDREC_THREADS"] = str(threads)
    os.environ["EMBEDREC_CACHE"] = str(cache)
    # this server's workers follow each other's reloads under this name (not other servers')
    os.environ["EMBEDREC_SERVER_ID"] = f"{socket.gethostname()}:{port}:{os.getpid()}"
    note(f"feedback in {url.split('@')[-1] if '@' in url else url}; API docs at /docs")
    uvicorn.run(
        "embedrec.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
