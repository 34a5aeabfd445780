"""Executors other than the in-process pool of service/executor.py: Celery (scale-out)."""
