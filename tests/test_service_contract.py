"""Contract test: requests generated from the OpenAPI schema, sent to a running server, never
get a 5xx, and the answers match the schema (status codes, bodies, content types)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from service_fixtures import FAKE_ENV, FakeCourse, Server, fake_grade

from service.app import create_app
from service.settings import Settings

pytestmark = pytest.mark.slow
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="tensorgrade-hypothesis-"))  # keep .hypothesis/ out of the repo


def _schema_of_an_unstarted_app() -> dict:
    """The schema is needed when tests are collected, before any server runs; the test below
    checks that the server serves the same one."""
    settings_ = Settings(data_dir=Path(tempfile.mkdtemp(prefix="tensorgrade-schema-")))
    return create_app(settings_, course=FakeCourse(), grade_fn=fake_grade).openapi()


OPENAPI = _schema_of_an_unstarted_app()
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory):
    env = dict(FAKE_ENV, TENSORGRADE_MAX_UPLOAD_BYTES=str(256 * 1024))
    server = Server(tmp_path_factory.mktemp("contract"), env=env).start()
    token = server.add_user("prof", "instructor")
    yield server, token
    server.stop()


def test_the_server_serves_this_schema(contract_server):
    server, _ = contract_server
    assert httpx.get(server.url + "/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_answers_match_the_schema(case, contract_server):
    server, token = contract_server
    case.call_and_validate(
        base_url=server.url,
        timeout=60,  # the machine running the tests may be busy; a slow answer is not a failure here
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
