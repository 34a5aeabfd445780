"""`tensorgrade worker`: kept apart from celery_worker.py so that registering the sub-command
imports nothing heavy."""

from __future__ import annotations

import argparse


def register_worker(subparsers: argparse._SubParsersAction) -> None:
    worker = subparsers.add_parser(
        "worker", help="grade submissions from the Celery queue (a service with TENSORGRADE_EXECUTOR=celery)"
    )
    worker.add_argument("--queue", choices=["cpu", "gpu"], default="cpu",
                        help="cpu (default), or gpu: assignments whose timing budgets need CUDA")
    worker.add_argument("--concurrency", type=int, help="gradings at once (default: TENSORGRADE_WORKERS, 2)")
    worker.add_argument("--hostname", help="worker name shown in reports (default QUEUE-PID@HOST)")
    worker.add_argument("--data-dir", help="uploads directory fallback and SQLite default (as for serve)")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--allow-weak-sandbox", action="store_true", default=None,
                        help="start even without bubblewrap (weaker isolation of student code)")
    worker.set_defaults(func=_cmd_worker)


def _cmd_worker(args: argparse.Namespace) -> int:
    from service.cli import _sandbox_ready, _settings
    from service.executors.celery_worker import run_worker

    settings = _settings(args, workers=args.concurrency, allow_weak_sandbox=args.allow_weak_sandbox)
    if not _sandbox_ready(settings):
        return 2
    return run_worker(settings, args.queue, hostname=args.hostname, loglevel=args.loglevel.upper())
