"""The dashboard's pages: server time of each page (its Server-Timing header, best of
--repeat) and the whole request's time, on two databases:
- the demo's (`driftloop demo`: SQLite, 1,120 rows, about 10 drift checks);
- MariaDB with --rows rows (default 1,000,000, loaded with LOAD DATA LOCAL INFILE), a
  champion trained on them, and --checks drift checks (default 10,000) with their column
  figures and as many drift jobs, inserted by SQL.
`driftloop serve --no-worker` serves each. The reference is the budget of issue 20: under
300 ms of server time per page."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from summary import record  # noqa: E402
from drift_job import HOST, PORT, USER, load, mariadb  # noqa: E402

BUDGET_MS = 300.0
PAGES = ["/ui/", "/ui/drift", "/ui/models", "/ui/jobs", "/ui/performance"]
FEATURES = ["sadness", "euphoric", "exhausted", "sleep_disorder", "mood_swing", "suicidal_thoughts", "anorexia",
            "authority_respect", "try_explanation", "aggressive_response", "ignore_and_move_on",
            "nervous_breakdown", "admit_mistakes", "overthinking", "sexual_activity", "concentration", "optimism"]


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(base):
    port = free_port()
    process = subprocess.Popen(base + ["serve", "--no-worker", "--addr", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "RUST_LOG": "warn"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/openapi.json", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("driftloop serve did not start")


def measure(url, repeat):
    """Per page: (best server ms, best request ms, bytes)."""
    results = {}
    for page in PAGES:
        server, total, size = [], [], 0
        for _ in range(repeat + 1):  # the first call warms the connection pool and the caches
            started = time.perf_counter()
            with urllib.request.urlopen(url + page, timeout=30) as response:
                body = response.read()
                timing = response.headers.get("Server-Timing", "")
            total.append((time.perf_counter() - started) * 1000)
            server.append(float(timing.split("dur=")[1]))
            size = len(body)
        results[page] = (min(server[1:]), min(total[1:]), size)
    return results


def demo_database(binary, tmp):
    folder = os.path.join(tmp, "demo")
    subprocess.run([binary, "demo", "--dir", folder, "--json"], check=True, capture_output=True)
    return [binary, "--database-url", f"sqlite://{folder}/driftloop.db", "--store", os.path.join(folder, "store")]


def large_database(binary, tmp, rows, checks):
    db = f"driftloop_bench_ui_{rows}"
    mariadb("-e", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}")
    base = [binary, "--database-url", f"mysql://{USER}@{HOST}:{PORT}/{db}", "--store", os.path.join(tmp, "store")]
    subprocess.run(base + ["db", "migrate"], check=True, capture_output=True)
    load(binary, tmp, db, "baseline", rows, 1)
    # The champion only gives the pages a model to show: fitted on a sample of 20,000 rows.
    subprocess.run(base + ["train", "--family", "naive-bayes"], check=True, capture_output=True,
                   env={**os.environ, "RUST_LOG": "warn", "DRIFTLOOP_MAX_TRAIN_ROWS": "20000"})
    figures = json.dumps([{"name": name, "psi": 0.01 * (i % 7), "p_value": 0.5, "drifted": False}
                          for i, name in enumerate(FEATURES)])
    mariadb("-e", "SET SESSION max_recursive_iterations = 1000000; "
                  "INSERT INTO jobs (kind, status, attempts, payload) "
                  f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {checks}) "
                  "SELECT 'drift', 'done', 1, JSON_OBJECT('last_row_id', n * 100) FROM seq; "
                  "INSERT INTO drift_reports (job_id, reference_uri, reference_sha256, reference_max_id, "
                  "current_max_id, n_current, drift, drift_share, drifted_columns, report_uri, column_figures) "
                  f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {checks}) "
                  f"SELECT n, 'file:///bench/snapshot.parquet', REPEAT('0', 64), {rows}, {rows} + n * 100, n * 100, "
                  "n % 5 = 0, IF(n % 5 = 0, 0.18, 0.0), IF(n % 5 = 0, 'sadness,optimism,sleep_disorder', ''), "
                  f"CONCAT('file:///bench/reports/drift/job-', n, '.json'), '{figures}' FROM seq", db=db)
    return base, db


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary")
    args = parser.parse_args()
    print(f"| page | demo database: server time | request | size | {args.rows:,} rows, {args.checks:,} checks "
          "(MariaDB): server time | request | size |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, make in (("demo", lambda: (demo_database(args.driftloop, tmp), None)),
                           ("large", lambda: large_database(args.driftloop, tmp, args.rows, args.checks))):
            base, db = make()
            process, url = serve(base)
            try:
                runs[name] = measure(url, args.repeat)
            finally:
                process.terminate()
                process.wait()
            if db:
                mariadb("-e", f"DROP DATABASE {db}")
        for page in PAGES:
            d, big = runs["demo"][page], runs["large"][page]
            print(f"| `{page}` | {d[0]:.1f} ms | {d[1]:.1f} ms | {d[2] / 1024:.0f} KiB | {big[0]:.1f} ms | "
                  f"{big[1]:.1f} ms | {big[2] / 1024:.0f} KiB |")
            record(args.summary, f"dashboard `{page}`, {args.rows:,} rows and {args.checks:,} drift checks",
                   "server time (best)", big[0], "the budget of issue 20", BUDGET_MS, False, "ms")


if __name__ == "__main__":
    main()
