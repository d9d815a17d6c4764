"""The feedback store's tables (SQLAlchemy Core): ratings in arrival order, hidden items, and
the model directory each server's workers serve after a reload. Ids are text, at most
MAX_ID_CHARS (`schemas`: 200) long."""

from __future__ import annotations

import time

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

metadata = MetaData()
ratings_table = Table(
    "embedrec_ratings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(200), nullable=False),
    Column("item_id", String(200), nullable=False),
    Column("rating", Float, nullable=False),
    Column("created", Float, nullable=False),
    Index("embedrec_ratings_user", "user_id"),
)
hidden_table = Table(
    "embedrec_hidden",
    metadata,
    Column("item_id", String(200), primary_key=True),
    Column("created", Float, nullable=False),
)


reloads_table = Table(  # which model directory each server's workers serve, after a reload
    "embedrec_reloads",
    metadata,
    Column("server_id", String(300), primary_key=True),
    Column("model_dir", String(4000), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("created", Float, nullable=False),
)

CREATE_TRIES = 5  # a race lost per table at most (three tables), and one more


def create_tables(engine: Engine) -> None:
    """Create the tables a new store lacks. Servers (or `train --feedback` beside a server)
    opening one new store at once race to create them: the loser's CREATE TABLE fails
    (PostgreSQL: duplicate key in pg_type; SQLite: table already exists). It tries again
    once the winner's tables show, skipping those that exist; an error with none of them
    there (no right to create, a full disk) is raised at once."""
    for attempt in range(1, CREATE_TRIES + 1):
        try:
            metadata.create_all(engine)
            return
        except SQLAlchemyError:
            made = set(inspect(engine).get_table_names()) & set(metadata.tables)
            if attempt == CREATE_TRIES or not made:
                raise
            time.sleep(0.02 * attempt)
