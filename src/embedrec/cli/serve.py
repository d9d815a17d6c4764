"""`embedrec serve MODEL_DIR`: the HTTP service (embedrec.service) under uvicorn."""

from __future__ import annotations

import ipaddress
import math
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

import embedrec
from embedrec import lazy
from embedrec.cli.common import app, err, handle_errors, note

if TYPE_CHECKING:  # imported when the command runs: --help needs neither uvicorn nor FastAPI
    import uvicorn

    from embedrec import service
else:
    uvicorn = lazy.module("uvicorn")
    service = lazy.module("embedrec.service")

LOOPBACK_NAMES = ("localhost", "ip6-localhost")
WORKER_TIMEOUT = 60.0  # seconds: see health_timeout


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
        float,
        typer.Option(
            "--cache",
            help="MiB of lists and genre filters kept per worker and loaded model (0: none); "
            "the least recently used go past it.",
            min=0,
        ),
    ] = service.DEFAULT_CACHE_MB,
    allowed_host: Annotated[
        Optional[list[str]],
        typer.Option(
            "--allowed-host",
            help="A Host name clients reach the server by (repeat; '*': any) [default: the "
            "--host address and the loopback names; any when --host is 0.0.0.0 or ::].",
        ),
    ] = None,
    worker_timeout: Annotated[
        Optional[float],
        typer.Option(
            "--worker-timeout",
            help="Seconds a worker may take to answer uvicorn's health ping, starting or "
            "serving, before it is replaced [default: 60, or 20x the model's load time].",
            min=1,
        ),
    ] = None,
    timeout_keep_alive: Annotated[
        int,
        typer.Option(
            "--timeout-keep-alive", help="Seconds an idle kept-alive connection stays open.", min=1
        ),
    ] = 5,
    limit_concurrency: Annotated[
        int,
        typer.Option(
            "--limit-concurrency",
            help="Connections (and requests) a worker holds at once; past it, new requests "
            "get 503. A request's headers must arrive within 10 s, its body within 30 s.",
            min=1,
        ),
    ] = 1000,
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
    started = time.perf_counter()
    embedrec.load(model_dir, arrays_only=True)  # a model that does not load fails here
    load_seconds = time.perf_counter() - started
    url = db or service.default_url(model_dir)
    service.FeedbackStore(url).close()  # so does a database that cannot be opened
    os.environ["EMBEDREC_MODEL_DIR"] = str(model_dir)
    os.environ["EMBEDREC_DB"] = url
    os.environ["EMBEDREC_TOKEN"] = token or ""
    os.environ["EMBEDREC_THREADS"] = str(threads)
    os.environ["EMBEDREC_CACHE_MB"] = str(cache)
    hosts = allowed_host or service.default_hosts(host)
    os.environ["EMBEDREC_ALLOWED_HOSTS"] = ",".join(hosts or ["*"])
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
        http=service.DeadlineProtocol,
        timeout_keep_alive=timeout_keep_alive,
        limit_concurrency=limit_concurrency,
        timeout_worker_healthcheck=math.ceil(worker_timeout or health_timeout(load_seconds)),
    )


def health_timeout(load_seconds: float) -> float:
    """How long a worker may leave uvicorn's health ping unanswered by default. A starting
    worker answers only once it has imported its modules (a spawned worker imports the command's
    modules before uvicorn's ping thread starts) and often only once the model is loaded:
    seconds when the machine is idle, many more beside CPU-bound work, where uvicorn's 5 s
    killed workers in a loop. So: WORKER_TIMEOUT, or 20 times this model's load here."""
    return max(WORKER_TIMEOUT, 20 * load_seconds)
