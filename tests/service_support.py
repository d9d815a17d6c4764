"""What the service tests share: a small model trained once on MovieLens 100k, the app in process
on a fresh SQLite store (`client`, `db_url`), a real `embedrec serve` process on a free loopback
port, the feedback store on SQLite and on the PostgreSQL `.ci/run` exports (`store_url`), a TCP
relay to a database that a test can cut (the database down, for that test alone), and the check
of a JSON error body."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import numpy as np
import pytest

import embedrec

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONSOLE_SCRIPT = """import sys
from embedrec.cli import main
if __name__ == "__main__":
    sys.exit(main())
"""
PG_ENV = "EMBEDREC_TEST_POSTGRES"  # a PostgreSQL URL the tests may create tables in
NO_PG = (
    f"needs a PostgreSQL server: set {PG_ENV}=postgresql://user@host:port/db "
    "(.ci/run starts one and sets it)"
)


def assert_error(response: httpx2.Response, status: int, *words: str) -> dict:
    """`response` is the JSON error `{"error", "status"}` of `status`, no traceback, its message
    naming each of `words`; returns the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and "Traceback" not in response.text
    for word in words:
        assert word in body["error"], body["error"]
    return body


@contextmanager
def new_database(server_url: str) -> Iterator[str]:
    """The URL of a database of its own on the test PostgreSQL at `server_url`, dropped after:
    a store no other test writes (a retrain reads every stored rating) or that does not exist
    yet."""
    # imported here: every test session loads this plugin, and only the store's tests need it
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    name = f"embedrec_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running `embedrec serve` process and a client for it."""

    process: subprocess.Popen
    url: str
    log: Path

    def client(self, **kwargs: object) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    model_dir: Path,
    log_dir: Path,
    db: str | None = None,
    *extra: str,
    token: str = TOKEN,
    within: float = 60,
) -> Server:
    """`embedrec serve` on a free loopback port, once /health answers (`within` s at most)."""
    port = free_port()
    # started as the installed `embedrec` script is: a worker uvicorn spawns imports it again
    # (and so torch) before it can answer the supervisor's health ping
    script = log_dir / "embedrec_script.py"
    script.write_text(CONSOLE_SCRIPT)
    command = [
        sys.executable,
        str(script),
        "serve",
        str(model_dir),
        "--port",
        str(port),
        "--log-level",
        "warning",
        *(["--db", db] if db else []),
        *(["--token", token] if token else []),
        *extra,
    ]
    log = log_dir / f"server-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "EMBEDREC_TOKEN"}
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}): {log.read_text()}")
        try:
            if httpx2.get(server.url + "/health", timeout=2).status_code == 200:
                return server
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise AssertionError(f"the server did not answer within {within:g} s: {log.read_text()}")


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux: read from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


class Relay:
    """A TCP relay on a free loopback port to the server at `host:port`. `cut()`: what connects
    through it finds nothing listening and open connections drop, as when the server stops;
    `restore()`: it relays again. The server behind it serves the other tests throughout."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        for sock in [self.listener, *self.sockets]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
                except OSError:
                    pass
                sock.close()
        self.listener, self.sockets = None, []

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture(scope="session")
def served_model(chapter_split, tmp_path_factory) -> Path:
    """A dot-bias model of MovieLens 100k (2 epochs: the service tests need titles, genres and
    a working model, not a good one), saved once."""
    rec = embedrec.train(chapter_split, model="dot-bias", epochs=2, seed=1)
    return rec.save(tmp_path_factory.mktemp("models") / "ml-100k")


@pytest.fixture(scope="session")
def server(served_model, tmp_path_factory) -> Iterator[Server]:
    """One real `embedrec serve` (uvicorn) for the tests that only read, or write their own
    users."""
    logs = tmp_path_factory.mktemp("server")
    running = start_server(served_model, logs, f"sqlite:///{logs / 'feedback.db'}")
    yield running
    running.stop()


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(NO_PG)
    return url


@pytest.fixture
def db_url(tmp_path) -> str:
    """A fresh SQLite feedback store for one test."""
    return f"sqlite:///{tmp_path / 'feedback.db'}"


@pytest.fixture
def client(served_model, db_url) -> Iterator[TestClient]:
    """The service of `served_model` in process, with the token, on a fresh SQLite store."""
    # imported here: every test session loads this plugin, and only service tests need FastAPI
    from fastapi.testclient import TestClient

    from embedrec.service import create_app

    with TestClient(create_app(served_model, db_url, TOKEN)) as test_client:
        yield test_client


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, db_url) -> str:
    """A feedback store on each backend: a fresh SQLite file, and the test PostgreSQL (shared
    by the tests: each writes users of its own)."""
    if request.param == "sqlite":
        return db_url
    return str(request.getfixturevalue("postgres_url"))


def training_rows(rec: embedrec.Recommender) -> dict[tuple[str, str], float]:
    """What a model was trained on, {(user, item): rating or weight}, ids as text."""
    assert rec.seen_indptr is not None and rec.seen_items is not None
    assert rec.seen_ratings is not None
    users = np.repeat(np.arange(rec.n_users), np.diff(rec.seen_indptr))
    pairs = zip(rec.user_map.decode(users).tolist(), rec.item_map.decode(rec.seen_items).tolist())
    return {(str(u), str(i)): float(r) for (u, i), r in zip(pairs, rec.seen_ratings.tolist())}
