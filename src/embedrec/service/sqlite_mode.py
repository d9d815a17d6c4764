"""How the store runs SQLite: WAL (readers never wait for the writer; several worker processes
share the file), `synchronous=FULL` (a rating is on disk before its 2xx) and a 10 s busy
timeout, set on every connection."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

BUSY_SECONDS = 10.0


def sqlite_pragmas(connection: Any, _record: Any) -> None:
    """SQLAlchemy's `connect` listener for a SQLite store."""
    cursor = connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
    _write_ahead_log(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _write_ahead_log(cursor: Any) -> None:
    """Switch to WAL. While another process switches a new file, SQLite answers "database is
    locked" at once, without waiting the busy timeout (servers, or a server's workers,
    opening one new store together): try again until the timeout has passed."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
