"""Benchmark of the service on loopback, with the real engine.

    .venv/bin/python bench/bench_service.py [--upload-seconds 10] [--clients 4] [--reads 400]

Starts `tensorgrade serve` (defaults: SQLite in a temporary data dir, 2 grading workers, each
grading in its own process) and measures, in this order:
1. end to end, upload -> graded, of a full-marks notebook of each assignment (idle server);
2. p50/p99 latency of report reads (student and staff views of those reports), sequential and
   with concurrent readers;
3. uploads accepted per second on POST /api/submissions while grading runs (every accepted
   upload is queued and the workers are busy grading throughout).
Prints a Markdown summary (for bench/RESULTS.md) and optionally writes the raw numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from notebook_tools import solved_notebook  # noqa: E402
from service_fixtures import Server, upload, wait_for  # noqa: E402

from autograder.registry import get_rubric, list_assignments, resolve  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def end_to_end(server: Server, token: str) -> dict[str, dict]:
    """Upload -> graded for a solved notebook of each assignment, one at a time."""
    results = {}
    with server.client(token) as client:
        for rubric in list_assignments():
            data = nbformat.writes(solved_notebook(rubric.slug)).encode()
            started = time.perf_counter()
            response = upload(client, rubric.slug, data)
            response.raise_for_status()
            final = wait_for(client, response.json()["id"], timeout_s=600)
            elapsed = time.perf_counter() - started
            results[rubric.slug] = {
                "seconds": round(elapsed, 2),
                "status": final["status"],
                "score": final["score"],
                "max_score": final["max_score"],
                "submission_id": final["id"],
                "grading_seconds": round(_seconds_between(final["started_at"], final["graded_at"]), 2),
            }
            print(
                f"  {rubric.slug:16} {elapsed:6.2f} s  {final['status']} {final['score']}/{final['max_score']}",
                flush=True,
            )
    return results


def _seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _timed_reads(
    server: Server, token: str, submission_ids: list[int], reads: int, threads: int
) -> tuple[list[float], float]:
    """`reads` report reads spread over `threads` clients: (latencies in ms, wall seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def reader(worker: int) -> None:
        with server.client(token) as client:
            for index in range(reads // threads):
                submission_id = submission_ids[(worker + index) % len(submission_ids)]
                started = time.perf_counter()
                response = client.get(f"/api/submissions/{submission_id}/report")
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed)

    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(reader, range(threads)))
    return latencies, time.perf_counter() - wall


def report_reads(server: Server, tokens: dict[str, str], submission_ids: list[int], reads: int, readers: int) -> dict:
    """Latency of GET /api/submissions/{id}/report, in milliseconds, per view and concurrency."""
    out = {}
    for view, token in tokens.items():
        for mode, threads in (("sequential", 1), (f"{readers} readers", readers)):
            latencies, wall = _timed_reads(server, token, submission_ids, reads, threads)
            row = {
                "reads": len(latencies),
                "p50_ms": round(percentile(latencies, 0.5), 2),
                "p99_ms": round(percentile(latencies, 0.99), 2),
                "reads_per_s": round(len(latencies) / wall, 1),
            }
            out[f"{view}, {mode}"] = row
            print(f"  {view:8} {mode:12} p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms", flush=True)
    return out


def upload_throughput(server: Server, tokens: list[str], seconds: float) -> dict:
    """Distinct stub notebooks uploaded as fast as `len(tokens)` clients can, while grading runs."""
    slug = "prompt_encoder"
    base = resolve(get_rubric(slug).notebook).read_text(encoding="utf-8")
    accepted, refused, latencies = 0, 0, []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client_loop(index: int) -> None:
        nonlocal accepted, refused
        counter = 0
        with server.client(tokens[index]) as client:
            while time.perf_counter() < stop_at:
                counter += 1
                notebook = nbformat.reads(base, as_version=4)
                notebook.cells.append(nbformat.v4.new_code_cell(f"# client {index} upload {counter}"))
                started = time.perf_counter()
                response = upload(client, slug, nbformat.writes(notebook).encode())
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if response.status_code == 202:
                        accepted += 1
                        latencies.append(elapsed)
                    else:
                        refused += 1

    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        list(pool.map(client_loop, range(len(tokens))))
    wall = time.perf_counter() - wall
    health = server.client().get("/api/health").json()
    result = {
        "clients": len(tokens),
        "seconds": round(wall, 2),
        "accepted": accepted,
        "refused": refused,
        "accepted_per_s": round(accepted / wall, 1),
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "running_at_end": health["running"],
        "queued_at_end": health["queued"],
        "notebook_bytes": len(base),
    }
    print(
        f"  {accepted} accepted in {wall:.1f} s = {result['accepted_per_s']}/s "
        f"(p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; {health['running']} grading, "
        f"{health['queued']} queued at the end)",
        flush=True,
    )
    return result


def markdown(results: dict) -> str:
    lines = [
        f"Machine: {results['machine']}; server: `tensorgrade serve` defaults (SQLite WAL, "
        f"{results['workers']} grading workers, one process per grading), loopback.",
        "",
        "| assignment | upload -> graded (s) | of which grading (s) | score |",
        "|---|---|---|---|",
    ]
    for slug, row in results["end_to_end"].items():
        lines.append(
            f"| {slug} | {row['seconds']} | {row['grading_seconds']} | {row['score']:g} / {row['max_score']:g} |"
        )
    lines += ["", "| report read | p50 (ms) | p99 (ms) | reads/s |", "|---|---|---|---|"]
    for name, row in results["report_reads"].items():
        lines.append(f"| {name} | {row['p50_ms']} | {row['p99_ms']} | {row['reads_per_s']} |")
    up = results["uploads"]
    lines += [
        "",
        f"Uploads while grading runs ({up['clients']} clients, {up['seconds']} s, "
        f"{up['notebook_bytes'] // 1024} KiB notebooks): **{up['accepted_per_s']} accepted/s**, "
        f"upload latency p50 {up['p50_ms']} ms / p99 {up['p99_ms']} ms; "
        f"{up['running_at_end']} gradings running and {up['queued_at_end']} queued at the end.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upload-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write the raw numbers here")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="tensorgrade-bench-"))
    env = {"TENSORGRADE_WORKERS": str(args.workers), "TENSORGRADE_RATE_LIMIT_COUNT": "1000000"}
    server = Server(data_dir, env=env).start()
    try:
        instructor = server.add_user("bench-prof", "instructor")
        students = [server.add_user(f"bench-student{index}", "student") for index in range(max(args.clients, 1))]
        print("end to end, one full-marks notebook per assignment:", flush=True)
        e2e = end_to_end(server, students[0])
        graded_ids = [row["submission_id"] for row in e2e.values() if row["status"] == "graded"]
        print("report reads:", flush=True)
        reads = report_reads(server, {"student": students[0], "staff": instructor}, graded_ids, args.reads, 4)
        print("uploads while grading runs:", flush=True)
        uploads = upload_throughput(server, students[: args.clients], args.upload_seconds)
    finally:
        server.stop()
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "workers": args.workers,
        "end_to_end": e2e,
        "report_reads": reads,
        "uploads": uploads,
    }
    print("\n" + markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
