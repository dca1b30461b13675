"""The store: a SQLAlchemy engine on SQLite or PostgreSQL, migrated by Alembic at start."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Select, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hub.config import HubSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")
MIGRATION_LOCK = 0x52454D4544590001  # "REMEDY" + 1: the PostgreSQL advisory lock of migrations


def private_file(path: Path) -> None:
    """The SQLite file readable by its owner only: it holds hashed secrets, external ids and
    findings. SQLite gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # made before this rule, or by another program


def make_engine(settings: HubSettings) -> Engine:
    url = make_url(settings.database_url)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            private_file(Path(url.database))
        connect_args = {"check_same_thread": False, "timeout": 30}
    elif settings.database_schema:
        connect_args = {"options": f"-csearch_path={settings.database_schema}"}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if url.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


class Database:
    """One engine and its sessions; `call` runs store work off the event loop."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """`alembic upgrade head` on this store (creating the PostgreSQL schema when set)."""
        with self.engine.begin() as connection:
            if self.dialect == "postgresql":
                # hubs starting together migrate one after the other
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
                if self.settings.database_schema:
                    connection.execute(
                        text(f'CREATE SCHEMA IF NOT EXISTS "{self.settings.database_schema}"')
                    )
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def run(self, work: Callable[[Session], T]) -> T:
        with self.session() as session:
            return work(session)

    async def call(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in a worker thread: store calls never block the event loop."""
        return await anyio.to_thread.run_sync(self.run, work)

    def dispose(self) -> None:
        self.engine.dispose()


def count(session: Session, query: Select[Any]) -> int:
    """How many rows `query` selects."""
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
