"""Bulk read of the feature table from MariaDB into a data frame, three ways, same table,
same run: driftloop (connectorx -> Arrow -> Polars), pandas.read_sql over PyMySQL, and the
mariadb client dumping the rows to /dev/null. Prints rows/s for each, and the peak RSS of
a whole process doing the read (driftloop's `db read`; a Python process importing pandas
and reading the same rows), beside the rows' size as driftloop holds them."""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import pandas as pd
import pymysql

from drift_job import run_measured
from summary import record

HOST, PORT, USER = "127.0.0.1", 3306, "root"
DATABASE = "driftloop_bench"
URL = f"mysql://{USER}@{HOST}:{PORT}/{DATABASE}"


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def driftloop(binary, *args):
    out = sh(binary, "--database-url", URL, *args, "--json", env={**os.environ, "RUST_LOG": "warn"})
    return json.loads(out)


def prepare(binary, rows):
    """Creates the bench database with `rows` feature rows, unless it already has them."""
    conn = pymysql.connect(host=HOST, port=PORT, user=USER)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        cur.execute(f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{DATABASE}' AND TABLE_NAME = 'features'")
        if cur.fetchone()[0]:
            cur.execute(f"SELECT COUNT(*) FROM {DATABASE}.features")
            if cur.fetchone()[0] == rows:
                return None
            cur.execute(f"DROP DATABASE {DATABASE}")
            cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.close()
    driftloop(binary, "db", "migrate")
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "rows.csv")
        driftloop(binary, "fixtures", "generate", "--rows", str(rows), "--seed", "7", "--out", csv)
        started = time.perf_counter()
        imported = driftloop(binary, "import", csv)
        seconds = time.perf_counter() - started
    assert imported["rows"] == rows, imported
    return rows / seconds


def run_driftloop(binary):
    started = time.perf_counter()
    answer = driftloop(binary, "db", "read")
    wall = time.perf_counter() - started
    return answer["rows"], answer["seconds"], wall


def run_pandas():
    conn = pymysql.connect(host=HOST, port=PORT, user=USER, database=DATABASE)
    started = time.perf_counter()
    frame = pd.read_sql("SELECT * FROM features", conn)
    seconds = time.perf_counter() - started
    conn.close()
    return len(frame), seconds, seconds


PANDAS_READ = f"""
import pandas as pd, pymysql
conn = pymysql.connect(host={HOST!r}, port={PORT}, user={USER!r}, database={DATABASE!r})
frame = pd.read_sql("SELECT * FROM features", conn)
print(len(frame))
"""


def peak_rss(binary):
    """Peak RSS MB of one `driftloop db read` and of one pandas.read_sql process, and the
    rows' size in driftloop's frame (MB)."""
    env = {**os.environ, "RUST_LOG": "warn"}
    out, _, driftloop_rss = run_measured([binary, "--database-url", URL, "db", "read", "--json"], env=env)
    frame_mb = json.loads(out).get("frame_bytes", 0) / 2**20
    _, _, pandas_rss = run_measured([sys.executable, "-c", PANDAS_READ])
    return driftloop_rss, pandas_rss, frame_mb


def run_cli():
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        subprocess.run(["mariadb", "--batch", "-h", HOST, "-P", str(PORT), "-u", USER, DATABASE,
                        "-e", "SELECT * FROM features"], check=True, stdout=sink)
    seconds = time.perf_counter() - started
    return None, seconds, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True, help="path to the release driftloop binary")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()

    import_rate = prepare(args.driftloop, args.rows)
    contenders = [
        ("driftloop db read (connectorx -> Arrow -> Polars)", lambda: run_driftloop(args.driftloop)),
        ("pandas.read_sql (PyMySQL)", run_pandas),
        ("mariadb --batch > /dev/null", run_cli),
    ]
    results = []
    for name, run in contenders:
        timings = []
        for _ in range(args.repeat):
            rows, seconds, wall = run()
            assert rows in (None, args.rows), (name, rows)
            timings.append((seconds, wall))
        best = min(t[0] for t in timings)
        median = statistics.median(t[0] for t in timings)
        results.append((name, args.rows / best, args.rows / median, min(t[1] for t in timings)))

    print(f"\nBulk read of {args.rows:,} feature rows from MariaDB ({args.repeat} runs each; "
          f"{os.cpu_count()} cores, {platform.machine()}, {platform.python_version()})")
    if import_rate:
        print(f"(setup: `driftloop import` of the rows, trigger counting every insert: {import_rate:,.0f} rows/s)")
    print()
    print("| reader | rows/s (best) | rows/s (median) | best wall s |")
    print("|---|---:|---:|---:|")
    for name, best, median, wall in results:
        print(f"| {name} | {best:,.0f} | {median:,.0f} | {wall:.2f} |")
    pandas_best = results[1][1]
    print(f"\ndriftloop / pandas: {results[0][1] / pandas_best:.1f}x")
    driftloop_rss, pandas_rss, frame_mb = peak_rss(args.driftloop)
    print(f"\nPeak RSS of the whole process: driftloop db read {driftloop_rss:,.0f} MB "
          f"(the rows' frame: {frame_mb:,.1f} MB), pandas.read_sql {pandas_rss:,.0f} MB")
    record(args.summary, f"bulk read, MariaDB -> data frame, {args.rows:,} rows", "peak RSS MB",
           driftloop_rss, "pandas.read_sql (PyMySQL)", pandas_rss, higher_is_better=False)
    for name, best, _, _ in results[1:]:
        record(args.summary, f"bulk read, MariaDB -> data frame, {args.rows:,} rows", "rows/s (best)",
               results[0][1], name, best, higher_is_better=True)


if __name__ == "__main__":
    main()
