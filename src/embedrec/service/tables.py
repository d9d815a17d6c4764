"""The feedback store's tables (SQLAlchemy Core): ratings in arrival order, hidden items, and
the model directory each server's workers serve after a reload. Ids are text, at most
MAX_ID_CHARS (`schemas`: 200) long."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table

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
