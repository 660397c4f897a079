"""Importing N labelled rows from a CSV into MariaDB, for N in --sizes (default 100,000 and
1,000,000): `driftloop import` (every cell checked, one transaction, the rows counted with
one call) beside the server's own LOAD DATA LOCAL INFILE of the same file into the same
table, counted row by row by the trigger, each into a freshly migrated database. Rows/s,
and the drift jobs each left (both must queue one per 100 rows)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from summary import record  # noqa: E402

HOST, PORT, USER = "127.0.0.1", 3306, "root"
DATABASE = "driftloop_bench_import"


def mariadb(sql, db=None):
    command = ["mariadb", "--protocol=tcp", "-h", HOST, "-P", str(PORT), "-u", USER, "--local-infile=1", "-N"]
    if db:
        command.append(db)
    return subprocess.run(command + ["-e", sql], check=True, capture_output=True, text=True).stdout.strip()


def fresh(binary):
    mariadb(f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE}")
    url = f"mysql://{USER}@{HOST}:{PORT}/{DATABASE}"
    subprocess.run([binary, "--database-url", url, "db", "migrate"], check=True, capture_output=True)
    return url


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()
    print("| rows | driftloop import | LOAD DATA LOCAL INFILE | driftloop vs LOAD DATA |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [int(s) for s in args.sizes.split(",")]:
            csv = os.path.join(tmp, f"rows-{rows}.csv")
            subprocess.run([args.driftloop, "fixtures", "generate", "--rows", str(rows), "--seed", "7", "--out", csv],
                           check=True, capture_output=True)
            with open(csv, encoding="utf-8") as f:
                header = f.readline().strip()
            ours, theirs = [], []
            for _ in range(args.repeat):
                url = fresh(args.driftloop)
                started = time.perf_counter()
                out = subprocess.run([args.driftloop, "--database-url", url, "import", csv, "--json"], check=True,
                                     capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"}).stdout
                ours.append(time.perf_counter() - started)
                answer = json.loads(out)
                assert answer["rows"] == rows and answer["drift_jobs_queued"] == rows // 100, answer
                fresh(args.driftloop)
                started = time.perf_counter()
                mariadb(f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE features FIELDS TERMINATED BY ',' "
                        f"IGNORE 1 LINES ({header}) SET label_source = 'expert'", DATABASE)
                theirs.append(time.perf_counter() - started)
                assert int(mariadb("SELECT COUNT(*) FROM jobs", DATABASE)) == rows // 100
            ours_rate, theirs_rate = rows / min(ours), rows / min(theirs)
            print(f"| {rows:,} | {ours_rate:,.0f} rows/s | {theirs_rate:,.0f} rows/s | "
                  f"{ours_rate / theirs_rate:.2f}x |")
            record(args.summary, f"import into MariaDB, {rows:,} rows (counted)", "rows/s (best)", ours_rate,
                   "LOAD DATA LOCAL INFILE (trigger counting)", theirs_rate, True)
    mariadb(f"DROP DATABASE IF EXISTS {DATABASE}")


if __name__ == "__main__":
    main()
