"""The Celery application shared by the service (which publishes grading tasks) and by
`tensorgrade worker` (which consumes them). Both build it from the same `Settings`.

A task carries a submission id and, when the publisher has it, the notebook itself (base64), so
a worker needs the database and the broker but no shared upload directory.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from celery import Celery
from kombu import Exchange, Queue

from autograder.rubric import Rubric
from service.settings import Settings

TASK_NAME = "tensorgrade.grade"
QueueKind = Literal["cpu", "gpu"]
QUEUE_KINDS: tuple[QueueKind, ...] = ("cpu", "gpu")
RESULT_TTL = timedelta(days=1)
BROKER_CONNECT_TIMEOUT_S = 3.0


def queue_for(rubric: Rubric | None) -> QueueKind:
    """Assignments whose timing budgets must be measured on CUDA go to GPU workers. An unknown
    assignment goes to the CPU queue, where the worker records the error."""
    return "gpu" if rubric is not None and rubric.requires_cuda_timing else "cpu"


def queue_name(settings: Settings, kind: QueueKind) -> str:
    return f"{settings.celery_queue_prefix}.{kind}"


def result_backend(settings: Settings) -> str | None:
    """The configured backend, else the broker when it is Redis; None: results are not kept (the
    database holds every outcome anyway)."""
    if settings.celery_result_backend:
        return settings.celery_result_backend
    if settings.celery_broker_url.startswith(("redis://", "rediss://")):
        return settings.celery_broker_url
    return None


def make_celery_app(settings: Settings, *, publisher: bool = False) -> Celery:
    """`publisher`: the service's app, which never waits for results (workers store them), so a
    publish does not touch the result backend."""
    backend = None if publisher else result_backend(settings)
    app = Celery("tensorgrade", broker=settings.celery_broker_url, backend=backend, set_as_current=False)
    queues = [Queue(name, Exchange(name, type="direct"), routing_key=name)
              for name in (queue_name(settings, kind) for kind in QUEUE_KINDS)]
    app.conf.update(
        task_queues=queues,
        task_default_queue=queue_name(settings, "cpu"),
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # the message is acknowledged after the task returns: a worker dying mid-grading leaves
        # it unacknowledged, so the broker hands it to another worker
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # each worker holds no more messages than it grades at once: a killed worker strands few,
        # and a burst spreads over every worker
        worker_prefetch_multiplier=1,
        # a task still runs to its end when the broker connection drops; its outcome is in the
        # database and the redelivered copy finds it done
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_ignore_result=result_backend(settings) is None,
        result_expires=RESULT_TTL,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=BROKER_CONNECT_TIMEOUT_S,
        broker_transport_options=_transport_options(settings),
        worker_hijack_root_logger=False,
    )
    return app


def _transport_options(settings: Settings) -> dict:
    if settings.celery_broker_url.startswith(("redis://", "rediss://")):
        # Redis has no acknowledgement timeout of its own: a message taken but not acknowledged
        # within this time is handed out again
        return {
            "visibility_timeout": settings.celery_visibility_timeout_s,
            # look for such messages every tenth of the timeout (at most every 10 s), instead of
            # kombu's default of every 100 s
            "unacked_restore_interval": min(10.0, max(1.0, settings.celery_visibility_timeout_s / 10)),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_S,
        }
    if settings.celery_broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return {"confirm_publish": True}  # a publish returns once RabbitMQ has the message
    return {}
