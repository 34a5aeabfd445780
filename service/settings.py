"""Service settings, read from `TENSORGRADE_*` environment variables and a `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Everything the service can be told; the defaults run it on a laptop.

    Precedence: explicit arguments (the CLI flags) > environment > `.env` > defaults.
    """

    model_config = SettingsConfigDict(env_prefix="TENSORGRADE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="SQLite file and uploads live here")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: sqlite file service.db under data_dir"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    max_upload_bytes: int = Field(default=5 * MiB, gt=0, description="largest notebook accepted")
    rate_limit_count: int = Field(default=10, ge=1, description="submissions per user per window")
    rate_limit_window_s: float = Field(default=60.0, gt=0)
    duplicate_window_s: float = Field(
        default=120.0, ge=0, description="an identical notebook resubmitted within this time is refused"
    )

    executor: Literal["local", "celery"] = Field(
        default="local", description="local: a pool inside the service; celery: `tensorgrade worker` processes"
    )
    workers: int = Field(default=2, ge=1, le=64, description="grading jobs run at once")
    grade_fn: str = Field(default="autograder:grade", description="module:function that grades")
    grade_isolation: Literal["process", "thread"] = Field(
        default="process", description="process: each grading in a fresh Python process"
    )
    allow_weak_sandbox: bool = Field(
        default=False,
        description="start even when bubblewrap is unusable (student code then runs in a plain subprocess)",
    )
    grade_timeout_s: float = Field(default=900.0, gt=0, description="a grading taking longer is an error")
    max_attempts: int = Field(default=3, ge=1, description="gradings interrupted by crashes before giving up")
    course: str = Field(
        default="service.core.course:RegistryCourse",
        description="module:factory giving the assignments and the misconception catalogue",
    )

    # executor=celery (docs/deployment.md)
    celery_broker_url: str = Field(default="redis://127.0.0.1:6379/0", description="redis://... or amqp://...")
    celery_result_backend: str | None = Field(default=None, description="default: the broker if it is Redis")
    celery_queue_prefix: str = Field(default="tensorgrade", description="queues PREFIX.cpu and PREFIX.gpu")
    celery_lease_s: float = Field(default=60.0, gt=0, description="a worker silent this long is presumed dead")
    celery_requeue_after_s: float = Field(default=600.0, gt=0, description="re-publish a submission queued this long")
    celery_visibility_timeout_s: float = Field(default=3600.0, gt=0, description="Redis: redeliver unacked after")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'service.db').resolve()}"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def max_request_bytes(self) -> int:
        """An upload request may carry the notebook plus this much multipart framing and fields."""
        return self.max_upload_bytes + 64 * 1024
