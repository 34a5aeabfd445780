"""Every flow of tests/test_service_flows.py again, with PostgreSQL as the database (a fresh
database per server, dropped afterwards): once with the embedded executor, once with the
Celery executor and a real `tensorgrade worker` (Redis broker)."""

from __future__ import annotations

import pytest
import test_service_flows
from scaleout_fixtures import (
    WorkerPool,
    celery_env,
    fresh_postgres_database,
    require_redis,
    sql,
)
from service_fixtures import FAKE_ENV, Server, classroom  # noqa: F401  (classroom: fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FLOW_TESTS = {name: test for name, test in vars(test_service_flows).items() if name.startswith("test_")}
globals().update(FLOW_TESTS)  # collected here too, with this module's `fake_server`


@pytest.fixture(scope="module", params=["local", pytest.param("celery", marks=pytest.mark.redis)])
def fake_server(request, tmp_path_factory):
    """The server the flow tests use (they share it, as in test_service_flows.py)."""
    data_dir = tmp_path_factory.mktemp(f"pg-{request.param}")
    with fresh_postgres_database() as database_url:
        if request.param == "celery":
            env = celery_env(database_url, require_redis(), TENSORGRADE_COURSE=FAKE_ENV["TENSORGRADE_COURSE"])
        else:
            env = dict(FAKE_ENV, TENSORGRADE_DATABASE_URL=database_url)
        server = Server(data_dir / "data", env=env).start()
        workers = WorkerPool(env, data_dir)
        try:
            if request.param == "celery":
                workers.start(concurrency=2)
            yield server
            assert not (data_dir / "data" / "service.db").exists()  # PostgreSQL was used, not SQLite
            assert sql(database_url, "SELECT count(*) FROM submissions")[0][0] > 0
        finally:
            workers.close()
            server.stop()

