"""Helpers for the scale-out tests: fresh PostgreSQL databases, the Redis broker, `tensorgrade
worker` processes, and a service configured with the Celery executor.

The tests skip (with the reason) when PostgreSQL or Redis is not reachable on loopback;
`.ci/services.sh` starts them in CI. Every test stack gets its own database and its own queue
names, and the broker is a Redis database of its own (11 by default,
TENSORGRADE_TEST_REDIS_URL overrides it), so parallel runs and other users of the Redis server
do not see each other's messages.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from service_fixtures import (
    FAKE_ENV,
    REPO,
    FakeCourse,
    Server,
    _environment,
    _rubric,
    free_port,
)

POSTGRES_ADMIN_URL = os.environ.get("TENSORGRADE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TENSORGRADE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
RABBITMQ_URL = os.environ.get("TENSORGRADE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")

GPU_SLUG = "gpu_timed"
LEASE_S = 2.0  # short: a killed worker's submission is taken over within seconds


# --- reachability --------------------------------------------------------------------------


def port_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1.0):
            return True
    except OSError:
        return False


def require_redis() -> str:
    if not port_open(REDIS_URL, 6379):
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (.ci/services.sh starts it)")
    return REDIS_URL


def require_rabbitmq() -> str:
    if not port_open(RABBITMQ_URL, 5672):
        pytest.skip(f"RabbitMQ is not reachable at {RABBITMQ_URL} (.ci/services.sh starts it)")
    return RABBITMQ_URL


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, uniquely named PostgreSQL database for one test stack; dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"tg_scaleout_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {type(error).__name__}")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sql(url: str, statement: str, **params) -> list:
    """Rows of one query against the stack's database (the tests look behind the API)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(statement), params))
    finally:
        engine.dispose()


def redis_queue_length(broker_url: str, queue: str) -> int:
    """Messages waiting in a Celery queue on the Redis broker (kombu keeps one list per queue)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        return client.llen(queue)
    finally:
        client.close()


# --- a course with an assignment for the GPU queue -----------------------------------------


class ScaleoutCourse(FakeCourse):
    """The fake course plus `gpu_timed`, whose rubric needs CUDA timing (routed to `gpu`)."""

    def __init__(self) -> None:
        super().__init__()
        self._rubrics[GPU_SLUG] = _rubric(GPU_SLUG, None).model_copy(update={"requires_cuda_timing": True})


# --- the processes -------------------------------------------------------------------------


def celery_env(database_url: str, broker_url: str, *, fake: bool = True, **extra: str) -> dict[str, str]:
    """Settings of a service and its workers: the Celery executor on `broker_url`, queues of
    their own, a short lease; `fake`: the fake course and grader (else the real engine)."""
    env = dict(FAKE_ENV, TENSORGRADE_COURSE="scaleout_fixtures:ScaleoutCourse") if fake else {}
    env.update(
        TENSORGRADE_EXECUTOR="celery",
        TENSORGRADE_DATABASE_URL=database_url,
        TENSORGRADE_CELERY_BROKER_URL=broker_url,
        TENSORGRADE_CELERY_QUEUE_PREFIX=f"tgtest-{uuid.uuid4().hex[:10]}",
        TENSORGRADE_CELERY_LEASE_S=str(LEASE_S),
        TENSORGRADE_RATE_LIMIT_COUNT="1000",
    )
    env.update(extra)
    return env


@dataclass
class Worker:
    """`python -m service.cli worker` in a subprocess, logging to a file."""

    env: dict[str, str]
    log_dir: Path
    queue: str = "cpu"
    concurrency: int = 1
    name: str = field(default_factory=lambda: f"w{uuid.uuid4().hex[:6]}")
    process: subprocess.Popen | None = None

    @property
    def hostname(self) -> str:
        return f"{self.name}@{socket.gethostname()}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.name}.log"

    def start(self, timeout_s: float = 90.0) -> Worker:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "worker", "--queue", self.queue,
                 "--concurrency", str(self.concurrency), "--hostname", self.hostname],
                cwd=REPO, env=_environment(self.env), stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            if f"{self.hostname} ready." in self.log():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready within {timeout_s} s:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM: Celery's warm shutdown (gradings under way finish first)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the worker vanishes mid-work, as when its machine dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


class WorkerPool:
    """Starts workers for one test and makes sure none outlives it."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.workers: list[Worker] = []

    def start(self, queue: str = "cpu", concurrency: int = 1) -> Worker:
        worker = Worker(self.env, self.log_dir, queue=queue, concurrency=concurrency)
        self.workers.append(worker)
        return worker.start()

    def start_many(self, count: int, **options) -> list[Worker]:
        """Several workers started in parallel (each takes seconds to import its modules)."""
        workers = [Worker(self.env, self.log_dir, **options) for _ in range(count)]
        self.workers.extend(workers)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(Worker.start, workers))

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def close(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()


@dataclass
class Stack:
    """A service with the Celery executor, its database and broker; workers are started per test."""

    server: Server
    env: dict[str, str]
    database_url: str
    broker_url: str

    @property
    def prefix(self) -> str:
        return self.env["TENSORGRADE_CELERY_QUEUE_PREFIX"]


@contextmanager
def celery_stack(tmp_dir: Path, broker_url: str, *, fake: bool = True, **extra: str) -> Iterator[Stack]:
    with fresh_postgres_database() as database_url:
        env = celery_env(database_url, broker_url, fake=fake, **extra)
        server = Server(tmp_dir / "data", env=env).start()
        try:
            yield Stack(server, env, database_url, broker_url)
        finally:
            server.stop()
            delete_queues(broker_url, env["TENSORGRADE_CELERY_QUEUE_PREFIX"])


def delete_queues(broker_url: str, prefix: str) -> None:
    """Leave nothing of this stack in the broker (best effort: it may be gone already)."""
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=2) as connection:
            channel = connection.channel()
            for kind in ("cpu", "gpu"):
                channel.queue_delete(f"{prefix}.{kind}")
                channel.exchange_delete(f"{prefix}.{kind}")
        if broker_url.startswith("redis://"):  # kombu keeps bindings (and restored messages) in keys of their own
            import redis

            client = redis.Redis.from_url(broker_url, socket_connect_timeout=2)
            for key in list(client.scan_iter(match=f"*{prefix}*")):
                client.delete(key)
            client.close()
    except Exception:
        pass


def free_port_url(scheme: str, path: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}{path}"


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")
