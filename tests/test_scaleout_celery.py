"""The Celery executor with real processes: `tensorgrade serve` (executor=celery, PostgreSQL),
Redis as broker and result backend, `tensorgrade worker` subprocesses, the fake grader.

Reliability: a worker killed with SIGKILL mid-grading, every worker down while 50 notebooks
arrive, the broker down while notebooks arrive, routing of CUDA-timed assignments to `gpu`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from collections import Counter

import pytest
from scaleout_fixtures import (
    GPU_SLUG,
    LEASE_S,
    Stack,
    WorkerPool,
    celery_env,
    celery_stack,
    delete_queues,
    free_port_url,
    fresh_postgres_database,
    redis_queue_length,
    redis_server_binary,
    require_rabbitmq,
    require_redis,
    sql,
)
from service_fixtures import (
    FAKE_MAX_SCORE,
    FAKE_TESTS,
    REPO,
    _environment,
    fake_notebook,
    upload,
    wait_for,
)

from service.db import Database
from service.executors.celery_app import TASK_NAME, make_celery_app, queue_name
from service.models import Submission, User
from service.settings import Settings

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    broker = require_redis()
    # queued submissions are re-published every second: the queue carries duplicates, which a
    # worker must recognise (its claim fails) rather than grade twice
    with celery_stack(tmp_path_factory.mktemp("celery"), broker, TENSORGRADE_CELERY_REQUEUE_AFTER_S="1") as running:
        yield running


@pytest.fixture
def pool(stack: Stack, tmp_path) -> WorkerPool:
    workers = WorkerPool(stack.env, tmp_path)
    yield workers
    workers.close()


@pytest.fixture(scope="module")
def student(stack: Stack):
    client = stack.server.client(stack.server.add_user("student1", "student"))
    yield client
    client.close()


def _submit(client, assignment: str = "alpha", **spec) -> int:
    response = upload(client, assignment, fake_notebook(**spec))
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _outcome_rows(stack: Stack, submission_id: int) -> int:
    return sql(stack.database_url, "SELECT count(*) FROM test_outcomes WHERE submission_id = :id",
               id=submission_id)[0][0]


def test_routing_cuda_timed_assignments_wait_for_a_gpu_worker(stack: Stack, pool: WorkerPool, student):
    cpu_worker = pool.start(queue="cpu")
    timed = _submit(student, GPU_SLUG)
    plain = _submit(student, "alpha")

    graded = wait_for(student, plain, timeout_s=60)
    assert graded["status"] == "graded"
    environment = student.get(f"/api/submissions/{plain}/report").json()["environment"]
    assert environment["worker_host"] == cpu_worker.hostname and environment["device"] == "cpu"

    time.sleep(LEASE_S)  # several sweeps and re-publications: the cpu worker still leaves it alone
    assert student.get(f"/api/submissions/{timed}").json()["status"] == "queued"
    assert redis_queue_length(stack.broker_url, f"{stack.prefix}.gpu") >= 1
    assert f"submission {timed}:" not in cpu_worker.log()


def test_a_gpu_worker_refuses_to_start_without_cuda(stack: Stack):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: a gpu worker may start here")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "worker", "--queue", "gpu"],
        cwd=REPO, env=_environment(stack.env), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "needs CUDA" in result.stderr


def test_a_worker_killed_mid_grading_is_replaced_by_another(stack: Stack, pool: WorkerPool, student, tmp_path):
    block = tmp_path / "hold"
    block.touch()
    doomed = pool.start()
    submission_id = _submit(student, block_file=str(block))
    assert wait_for(student, submission_id, statuses=("running",), timeout_s=60)["attempts"] == 1
    survivor = pool.start()  # idle until the doomed worker's lease runs out

    doomed.kill()
    block.unlink()  # the survivor's grading runs straight through
    graded = wait_for(student, submission_id, timeout_s=60)

    assert graded["status"] == "graded" and graded["attempts"] == 2
    report = student.get(f"/api/submissions/{submission_id}/report").json()
    assert report["environment"]["worker_host"] == survivor.hostname
    assert _outcome_rows(stack, submission_id) == len(FAKE_TESTS)  # one report's rows, not two
    assert f"submission {submission_id}: graded" in survivor.log()


def test_fifty_notebooks_sent_while_every_worker_is_down_are_graded_exactly_once(stack: Stack, pool: WorkerPool):
    client = stack.server.client(stack.server.add_user("burst", "student"))
    first = pool.start()
    warm_up = _submit(client)
    assert wait_for(client, warm_up, timeout_s=60)["status"] == "graded"
    pool.stop_all()
    assert first.process.returncode is not None

    ids = [_submit(client, sleep_s=0.05) for _ in range(50)]
    time.sleep(2 * LEASE_S)  # the service keeps sweeping; nobody grades
    statuses = Counter(client.get(f"/api/submissions/{i}").json()["status"] for i in ids)
    assert statuses == {"queued": 50}

    workers = pool.start_many(2)
    finals = [wait_for(client, i, timeout_s=120) for i in ids]

    assert [final["status"] for final in finals] == ["graded"] * 50
    assert {final["attempts"] for final in finals} == {1}  # claimed once each: graded exactly once
    counts = dict(sql(stack.database_url, "SELECT submission_id, count(*) FROM test_outcomes "
                      "WHERE submission_id = ANY(:ids) GROUP BY submission_id", ids=ids))
    assert counts == {i: len(FAKE_TESTS) for i in ids}
    hosts = Counter(client.get(f"/api/submissions/{i}/report").json()["environment"]["worker_host"] for i in ids)
    assert set(hosts) == {worker.hostname for worker in workers}  # both took part
    graded_lines = sum(worker.log().count(": graded") for worker in workers)
    assert graded_lines == 50


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, on a free port, that the test starts late."""
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("redis-server is not installed: cannot start a broker late")
    url = free_port_url("redis", "/0")
    port = url.rsplit(":", 1)[1].split("/")[0]
    command = [binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]
    processes: list[subprocess.Popen] = []

    def start() -> None:
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from scaleout_fixtures import port_open

        deadline = time.monotonic() + 20
        while not port_open(url, 6379):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)

    yield url, start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_notebooks_accepted_while_the_broker_is_down_are_graded_once_it_is_up(private_redis, tmp_path):
    broker_url, start_broker = private_redis
    with celery_stack(tmp_path, broker_url) as down:
        client = down.server.client(down.server.add_user("early", "student"))
        started = time.monotonic()
        ids = [_submit(client) for _ in range(3)]
        assert time.monotonic() - started < 10  # uploads do not wait on the broker
        time.sleep(LEASE_S)
        assert {client.get(f"/api/submissions/{i}").json()["status"] for i in ids} == {"queued"}

        start_broker()
        workers = WorkerPool(down.env, tmp_path)
        try:
            workers.start()
            finals = [wait_for(client, i, timeout_s=60) for i in ids]
        finally:
            workers.close()
        assert [(final["status"], final["attempts"]) for final in finals] == [("graded", 1)] * 3
        assert "cannot publish to the broker" in down.server.log()



@pytest.mark.rabbitmq
def test_rabbitmq_works_as_the_broker_by_url(tmp_path):
    broker_url = require_rabbitmq()
    with celery_stack(tmp_path, broker_url) as rabbit:
        workers = WorkerPool(rabbit.env, tmp_path)
        try:
            worker = workers.start(concurrency=2)
            client = rabbit.server.client(rabbit.server.add_user("bunny", "student"))
            ids = [_submit(client, failing=["test_visible_value"]) for _ in range(3)]
            finals = [wait_for(client, i, timeout_s=60) for i in ids]
        finally:
            workers.close()
    assert [(final["status"], final["score"]) for final in finals] == [("graded", FAKE_MAX_SCORE - 2)] * 3
    assert "amqp://guest:**@" in worker.log()


def test_without_the_service_the_broker_redelivers_a_killed_workers_task(tmp_path):
    """Workers alone recover: the task a killed worker never acknowledged comes back from Redis
    after the visibility timeout, and its copy takes the submission over once the lease is out."""
    broker_url = require_redis()
    with fresh_postgres_database() as database_url:
        env = celery_env(database_url, broker_url, TENSORGRADE_CELERY_VISIBILITY_TIMEOUT_S="3")
        settings = Settings(database_url=database_url, celery_broker_url=broker_url,
                            celery_queue_prefix=env["TENSORGRADE_CELERY_QUEUE_PREFIX"])
        block = tmp_path / "hold"
        block.touch()
        data = fake_notebook(block_file=str(block))
        submission_id = _insert_submission(database_url, data)
        workers = WorkerPool(env, tmp_path)
        publisher = make_celery_app(settings, publisher=True)
        try:
            doomed = workers.start()
            publisher.send_task(TASK_NAME, args=[submission_id, base64.b64encode(data).decode()],
                                queue=queue_name(settings, "cpu"))
            _wait_row(database_url, submission_id, "running")
            survivor = workers.start()
            doomed.kill()
            block.unlink()
            status, attempts, report = _wait_row(database_url, submission_id, "graded", timeout_s=90)
        finally:
            publisher.close()
            workers.close()
            delete_queues(broker_url, env["TENSORGRADE_CELERY_QUEUE_PREFIX"])
    assert attempts == 2
    assert json.loads(report)["environment"]["worker_host"] == survivor.hostname


def _insert_submission(database_url: str, data: bytes) -> int:
    database = Database(database_url)
    try:
        database.migrate()
        with database.session() as session:
            user = User(name="direct", role="student")
            session.add(user)
            session.flush()
            submission = Submission(user_id=user.id, assignment="alpha", size_bytes=len(data),
                                    sha256=hashlib.sha256(data).hexdigest())
            session.add(submission)
            session.flush()
            return submission.id
    finally:
        database.dispose()


def _wait_row(database_url: str, submission_id: int, status: str, timeout_s: float = 60) -> tuple:
    deadline = time.monotonic() + timeout_s
    while True:
        row = sql(database_url, "SELECT status, attempts, report_json FROM submissions WHERE id = :id",
                  id=submission_id)[0]
        if row[0] == status:
            return tuple(row)
        assert time.monotonic() < deadline, f"submission {submission_id} still {row[0]}"
        time.sleep(0.1)
