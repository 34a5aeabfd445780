"""Benchmark of the scale-out setup: a burst of real submissions graded by 1, then 2 Celery workers.

    .venv/bin/python bench/bench_scaleout.py [--copies 1] [--workers 1 2] [--json out.json]

Needs PostgreSQL and Redis on loopback (.ci/services.sh starts them). Starts `tensorgrade serve`
with the Celery executor on a fresh PostgreSQL database (dropped at the end) and Redis, then for
each worker count: starts that many `tensorgrade worker --concurrency 1` processes, uploads the
burst as fast as one client can (per assignment: a full-marks notebook and a wrong one, whose
functions are left unimplemented and whose multiple-choice answer is a misconception),
waits until every notebook is graded and stops the workers. Reports throughput (notebooks per
minute, from the first upload to the last grade), the scaling ratio between the rounds, and how
long one grading took (its `started_at` to `graded_at`) in each round. Prints a Markdown summary
(for bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from notebook_tools import notebook_with_cells, solved_notebook
from scaleout_fixtures import (
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    Server,
    WorkerPool,
    celery_env,
    delete_queues,
    port_open,
)
from service_fixtures import upload, wait_for

from autograder.registry import get_rubric, list_assignments


def wrong_notebook(slug: str) -> nbformat.NotebookNode:
    """Functions left as stubs, and a multiple-choice answer that the rubric ties to a misconception."""
    check = next(check for check in get_rubric(slug).checks if check.wrong_options)
    letter = next(iter(check.wrong_options))
    return notebook_with_cells(slug, [f"{check.variable} = {letter!r}"], with_solution=False)


def burst(copies: int, round_index: int) -> list[tuple[str, str, bytes]]:
    """(slug, kind, notebook bytes), interleaved across assignments; a comment keeps every
    notebook distinct between rounds."""
    items = []
    for copy in range(copies):
        for kind, build in (("correct", solved_notebook), ("wrong", wrong_notebook)):
            for rubric in list_assignments():
                notebook = build(rubric.slug)
                notebook.cells.append(nbformat.v4.new_code_cell(f"# round {round_index} copy {copy}"))
                items.append((rubric.slug, kind, nbformat.writes(notebook).encode()))
    return items


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and of every descendant it has waited for: the
    worker, its grading processes and their sandboxes (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def cpu_pressure_avg60() -> float | None:
    """Share of the last minute (%) in which some runnable task waited for a CPU (Linux PSI):
    how contended the machine was, whoever caused it."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return float(dict(item.split("=") for item in line.split()[1:])["avg60"])


def run_round(server: Server, env: dict, token: str, workers: int, items: list, log_dir: Path) -> dict:
    pool = WorkerPool(env, log_dir)
    try:
        pool.start_many(workers, concurrency=1)
        cpu_at_start = sum(tree_cpu_seconds(worker.process.pid) for worker in pool.workers)
        load_before = os.getloadavg()[0]
        with server.client(token) as client:
            started = time.perf_counter()
            ids = []
            for slug, _, data in items:
                response = upload(client, slug, data)
                response.raise_for_status()
                ids.append(response.json()["id"])
            finals = [wait_for(client, submission_id, timeout_s=3600) for submission_id in ids]
            elapsed = time.perf_counter() - started
            hosts = [client.get(f"/api/submissions/{i}/report").json()["environment"]["worker_host"]
                     for i, final in zip(ids, finals) if final["status"] == "graded"]
        cpu_s = sum(tree_cpu_seconds(worker.process.pid) for worker in pool.workers) - cpu_at_start
    finally:
        pool.stop_all()
        pool.close()
    gradings = [_seconds(final["started_at"], final["graded_at"]) for final in finals]
    by_kind: dict[str, list[float]] = {}
    for (_, kind, _), seconds in zip(items, gradings):
        by_kind.setdefault(kind, []).append(seconds)
    return {
        "workers": workers,
        "notebooks": len(items),
        "elapsed_s": round(elapsed, 1),
        "per_minute": round(60 * len(items) / elapsed, 2),
        "statuses": sorted({final["status"] for final in finals}),
        "full_marks": sum(1 for final in finals if final["score"] is not None and final["score"] == final["max_score"]),
        "grading_s_mean": round(statistics.mean(gradings), 1),
        "grading_s_by_kind": {kind: round(statistics.mean(values), 1) for kind, values in by_kind.items()},
        "workers_used": len(set(hosts)),
        "cpu_s_per_notebook": round(cpu_s / len(items), 1),
        "cores_busy": round(cpu_s / elapsed, 2),
        "load_avg_1min_before": round(load_before, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "cpu_pressure_avg60_after": cpu_pressure_avg60(),
    }


def markdown(results: dict) -> str:
    lines = [
        f"Machine: {results['machine']}; service: `tensorgrade serve` (Celery executor, PostgreSQL, Redis), "
        f"workers `tensorgrade worker --concurrency 1`, each grading in its own process; burst of "
        f"{results['rounds'][0]['notebooks']} notebooks (per assignment: full marks, and stubs with a wrong answer).",
        "",
        "| workers | notebooks | burst graded in (s) | notebooks/min | mean grading (s) | correct / wrong (s) "
        "| CPU s per notebook | cores busy (of 2) | load before -> after | CPU pressure at end (%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rounds"]:
        kinds = r["grading_s_by_kind"]
        lines.append(
            f"| {r['workers']} | {r['notebooks']} | {r['elapsed_s']} | {r['per_minute']} | {r['grading_s_mean']} | "
            f"{kinds.get('correct', '-')} / {kinds.get('wrong', '-')} | "
            f"{r['cpu_s_per_notebook']} | {r['cores_busy']} | "
            f"{r['load_avg_1min_before']} -> {r['load_avg_1min_after']} | {r['cpu_pressure_avg60_after']} |"
        )
    if "scaling" in results:
        lines += ["", f"Scaling ratio (throughput with {results['rounds'][-1]['workers']} workers / with "
                      f"{results['rounds'][0]['workers']}): **{results['scaling']}**"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=1, help="each notebook of the burst this many times")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", help="write the raw numbers here")
    args = parser.parse_args()
    if not (port_open(POSTGRES_ADMIN_URL, 5432) and port_open(REDIS_URL, 6379)):
        print(f"needs PostgreSQL ({POSTGRES_ADMIN_URL}) and Redis ({REDIS_URL}); try .ci/services.sh", file=sys.stderr)
        return 2

    from scaleout_fixtures import fresh_postgres_database

    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rounds": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp, fresh_postgres_database() as database_url:
        env = celery_env(database_url, REDIS_URL, fake=False, TENSORGRADE_DUPLICATE_WINDOW_S="0")
        server = Server(Path(tmp) / "data", env=env).start()
        try:
            token = server.add_user("bench", "student")
            for index, workers in enumerate(args.workers):
                items = burst(args.copies, index)
                result = run_round(server, env, token, workers, items, Path(tmp))
                print(json.dumps(result), flush=True)
                results["rounds"].append(result)
        finally:
            server.stop()
            delete_queues(REDIS_URL, env["TENSORGRADE_CELERY_QUEUE_PREFIX"])
    if len(results["rounds"]) >= 2:
        results["scaling"] = round(results["rounds"][-1]["per_minute"] / results["rounds"][0]["per_minute"], 2)
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
