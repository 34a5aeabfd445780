"""The Alembic migrations build the schema of service.models from an empty database, both ways,
on SQLite and (marker `postgres`) on the PostgreSQL server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from service_fixtures import FAKE_ENV, Classroom, Server, fake_notebook, upload, wait_for
from sqlalchemy import create_engine, inspect, text

from service.db import Database, alembic_config
from service.models import Base

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _schema_differences(database: Database) -> list:
    with database.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def _check_round_trip(url: str) -> None:
    database = Database(url)
    try:
        database.migrate()
        assert _schema_differences(database) == []
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()
        database.migrate()  # idempotent at head

        command.downgrade(alembic_config(url), "base")
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(alembic_config(url), "head")
        assert _schema_differences(database) == []
    finally:
        database.dispose()


def test_migrations_build_the_models_schema_from_an_empty_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    _check_round_trip(url)
    with create_engine(url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped afterwards."""
    name = f"tg_service_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # no server: the marker says this test needs one
        admin.dispose()
        pytest.skip(f"no PostgreSQL on loopback: {error.__class__.__name__}")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_migrations_on_postgresql(postgres_url):
    _check_round_trip(postgres_url)


@pytest.mark.postgres
@pytest.mark.slow
def test_service_on_postgresql(postgres_url, tmp_path):
    """The same flows on PostgreSQL: upload, grading, duplicates under concurrency, analytics, export."""
    from concurrent.futures import ThreadPoolExecutor

    server = Server(tmp_path / "data", env=dict(FAKE_ENV, TENSORGRADE_DATABASE_URL=postgres_url)).start()
    try:
        classroom = Classroom(server, server.client(server.add_user("prof", "instructor")))
        _, student = classroom.user("student")
        graded = classroom.graded(
            student,
            "alpha",
            failing=["test_hidden_gradient"],
            flags={"test_hidden_gradient": ["siglip.wastes-negatives"]},
        )
        assert graded["status"] == "graded" and graded["misconceptions"] == ["siglip.wastes-negatives"]
        data = fake_notebook()
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = sorted(pool.map(lambda _: upload(student, "beta", data).status_code, range(4)))
        assert statuses == [202, 409, 409, 409]
        stats = classroom.instructor.get("/api/analytics/misconceptions").json()
        assert stats["planned"][0]["students"] == 1
        assert "alpha" in classroom.instructor.get("/api/export/gradebook.csv").text.splitlines()[0]
        latest = student.get("/api/submissions").json()["items"][0]
        assert wait_for(student, latest["id"])["status"] == "graded"
    finally:
        server.stop()
    assert not (tmp_path / "data" / "service.db").exists()  # the URL setting was used, not the default file
