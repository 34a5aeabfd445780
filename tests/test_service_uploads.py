"""Bad uploads are refused with a 4xx and a machine-readable body, and leave nothing behind."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import nbformat
import pytest
from service_fixtures import FAKE_ENV, Classroom, Server, fake_notebook, upload, wait_for

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    env = dict(
        FAKE_ENV,
        TENSORGRADE_MAX_UPLOAD_BYTES=str(LIMIT),
        TENSORGRADE_RATE_LIMIT_COUNT="3",
        TENSORGRADE_RATE_LIMIT_WINDOW_S="600",
        TENSORGRADE_DUPLICATE_WINDOW_S="600",
    )
    server = Server(tmp_path_factory.mktemp("strict"), env=env).start()
    classroom = Classroom(server, server.client(server.add_user("prof", "instructor")))
    yield classroom
    server.stop()


def _stored_files(server: Server) -> list[Path]:
    return [path for path in (server.data_dir / "uploads").rglob("*") if path.is_file()]


def _refused(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"]
    return body


def _padded_notebook(size: int) -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1\n# " + "p" * size))
    return nbformat.writes(notebook).encode()


def test_malformed_uploads_are_refused_and_nothing_is_stored(strict: Classroom):
    _, student = strict.user("student")
    files_before = _stored_files(strict.server)
    invalid_nbformat = json.dumps(
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}
    )
    cases = [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), 422, "not_a_notebook"),
        (b'["a", "list"]', 422, "not_a_notebook"),
        (b'{"cells": []}', 422, "not_a_notebook"),
        (invalid_nbformat.encode(), 422, "invalid_notebook"),
        (b"", 422, "empty_file"),
        (_padded_notebook(LIMIT + 10), 413, "payload_too_large"),  # file over the limit, request within framing slack
        (_padded_notebook(4 * LIMIT), 413, "payload_too_large"),  # refused before the body is parsed
    ]
    for data, status, code in cases:
        _refused(upload(student, "alpha", data), status, code)
    _refused(upload(student, "nope", fake_notebook()), 422, "unknown_assignment")
    _refused(student.post("/api/submissions", data={"assignment": "alpha"}), 422, "validation_error")
    _refused(student.post("/api/submissions", files={"file": ("a.ipynb", fake_notebook())}), 422, "validation_error")
    garbage = student.post(
        "/api/submissions", content=b"--x\r\nnonsense", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert 400 <= garbage.status_code < 500 and "detail" in garbage.json()

    assert student.get("/api/submissions").json()["total"] == 0
    assert _stored_files(strict.server) == files_before


def test_oversized_chunked_upload_is_refused(strict: Classroom):
    _, student = strict.user("student")

    def chunks():
        for _ in range(40):
            yield b"x" * 8192

    response = student.post(
        "/api/submissions", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    _refused(response, 413, "payload_too_large")


def test_identical_rapid_resubmission_is_refused_once_accepted(strict: Classroom):
    _, student = strict.user("student")
    data = fake_notebook()
    first = upload(student, "alpha", data)
    assert first.status_code == 202
    body = _refused(upload(student, "alpha", data), 409, "duplicate_submission")
    assert body["submission_id"] == first.json()["id"]
    assert upload(student, "beta", data).status_code == 202  # another assignment is another submission


def test_concurrent_identical_uploads_create_one_submission(strict: Classroom):
    _, student = strict.user("student")
    data = fake_notebook()
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = sorted(pool.map(lambda _: upload(student, "alpha", data).status_code, range(5)))
    assert statuses == [202, 409, 409, 409, 409]
    assert student.get("/api/submissions").json()["total"] == 1


def test_resubmitting_after_a_grading_error_is_allowed(strict: Classroom):
    _, student = strict.user("student")
    data = fake_notebook(raise_error="crash")
    failed = upload(student, "alpha", data).json()
    assert wait_for(student, failed["id"])["status"] == "error"
    assert upload(student, "alpha", data).status_code == 202


def test_rate_limit_per_user(strict: Classroom):
    _, student = strict.user("student")
    _, other = strict.user("student")
    for _ in range(3):
        assert upload(student, "alpha", fake_notebook()).status_code == 202
    limited = upload(student, "alpha", fake_notebook())
    body = _refused(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["retry-after"]) <= 601 and body["retry_after_s"] == int(
        limited.headers["retry-after"]
    )
    assert upload(other, "alpha", fake_notebook()).status_code == 202
    assert student.get("/api/submissions").json()["total"] == 3


def test_accepted_upload_is_stored_under_its_hash(strict: Classroom):
    _, student = strict.user("student")
    data = fake_notebook()
    accepted = upload(student, "alpha", data).json()
    stored = strict.server.data_dir / "uploads" / accepted["sha256"][:2] / accepted["sha256"][2:]
    assert stored.read_bytes() == data
    assert not list((strict.server.data_dir / "uploads").rglob(".incoming-*"))
