"""The full submission flow at scale with the real engine: `tensorgrade serve` with the Celery
executor on PostgreSQL, Redis as broker, a real `tensorgrade worker` grading each notebook in its
own process, the bundled course."""

from __future__ import annotations

import nbformat
import pytest
import torch
from notebook_tools import notebook_with_cells, solved_notebook
from scaleout_fixtures import WorkerPool, celery_stack, require_redis, sql
from service_fixtures import upload, wait_for

from autograder.registry import get_rubric

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

SLUG = "prompt_encoder"  # quick to grade


def _wrong_choice() -> tuple[str, list[str]]:
    check = next(check for check in get_rubric(SLUG).checks if check.wrong_options)
    letter, ids = next(iter(check.wrong_options.items()))
    return f"{check.variable} = {letter!r}", ids


def test_notebooks_are_graded_by_the_engine_in_a_celery_worker(tmp_path):
    wrong_answer, expected_ids = _wrong_choice()
    with celery_stack(tmp_path, require_redis(), fake=False) as stack:
        workers = WorkerPool(stack.env, tmp_path)
        try:
            worker = workers.start(concurrency=2)
            student = stack.server.client(stack.server.add_user("student1", "student"))
            notebooks = [solved_notebook(SLUG), notebook_with_cells(SLUG, [wrong_answer])]
            ids = []
            for notebook in notebooks:
                response = upload(student, SLUG, nbformat.writes(notebook).encode())
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
            solved, wrong = (wait_for(student, i, timeout_s=300) for i in ids)
        finally:
            workers.close()

        assert solved["status"] == "graded" and solved["score"] == solved["max_score"] > 0, solved
        assert wrong["status"] == "graded" and wrong["score"] < wrong["max_score"]
        assert set(expected_ids) <= set(wrong["misconceptions"])
        report = student.get(f"/api/submissions/{ids[0]}/report").json()
        assert report["environment"]["worker_host"] == worker.hostname
        assert report["environment"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
        assert report["environment"]["isolation"] != "not started"
        stored = sql(stack.database_url, "SELECT count(*) FROM misconception_hits WHERE submission_id = :id",
                     id=ids[1])[0][0]
        assert stored == len(wrong["misconceptions"])
        assert f"submission {ids[0]}: graded" in worker.log()
