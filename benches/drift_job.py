"""The drift job over MariaDB as the rows grow: N reference rows (the snapshot the check
compares with) and N rows since, for N in --sizes (default 100,000 and 1,000,000).
driftloop's job (`driftloop drift`: the reference's counts from its manifest, the current
rows counted by the database) beside a Python drift job over the same rows (pandas.read_sql
of the rows since the snapshot over PyMySQL, then the statistics of
data-fixtures/drift/scipy_reference.py: pandas value counts, SciPy's chi2_contingency,
NumPy's PSI), each in its own process: seconds and peak RSS.

The rows are loaded with the server's LOAD DATA LOCAL INFILE (the trigger counts them and
queues a drift job every 100 rows, so the check answers a burst of N/100 jobs)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HOST, PORT, USER = "127.0.0.1", 3306, "root"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from summary import record  # noqa: E402


def database(rows):
    return f"driftloop_bench_drift_{rows}"


def mariadb(*args, db=None):
    command = ["mariadb", "--protocol=tcp", "-h", HOST, "-P", str(PORT), "-u", USER, "--local-infile=1"]
    if db:
        command.append(db)
    subprocess.run(command + list(args), check=True, capture_output=True, text=True)


def run_measured(command, env=None):
    """Runs a command and returns (stdout, wall seconds, peak RSS MB) of that process alone."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # wait4 on the pid gives that child's own rusage (ru_maxrss in KiB on Linux); threads
    # empty the pipes meanwhile.
    out_chunks, err_chunks = [], []

    def drain(stream, sink):
        sink.append(stream.read())

    threads = [threading.Thread(target=drain, args=(process.stdout, out_chunks)),
               threading.Thread(target=drain, args=(process.stderr, err_chunks))]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    for t in threads:
        t.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed ({process.returncode}): {''.join(err_chunks)[-2000:]}")
    return "".join(out_chunks), wall, usage.ru_maxrss / 1024


def load(binary, tmp, db, scenario, rows, seed):
    csv = os.path.join(tmp, f"{scenario}-{rows}.csv")
    if not os.path.exists(csv):
        subprocess.run([binary, "fixtures", "generate", "--rows", str(rows), "--seed", str(seed), "--scenario",
                        scenario, "--out", csv], check=True, capture_output=True)
    with open(csv, encoding="utf-8") as f:
        header = f.readline().strip()
    mariadb("-e", f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE features FIELDS TERMINATED BY ',' "
                  f"IGNORE 1 LINES ({header}) SET label_source = 'expert'", db=db)


def prepare(binary, tmp, rows):
    """A database with `rows` baseline rows, their snapshot, and `rows` shifted rows since."""
    db = database(rows)
    store = os.path.join(tmp, f"store-{rows}")
    mariadb("-e", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}")
    url = f"mysql://{USER}@{HOST}:{PORT}/{db}"
    base = [binary, "--database-url", url, "--store", store]
    subprocess.run(base + ["db", "migrate"], check=True, capture_output=True)
    load(binary, tmp, db, "baseline", rows, 1)
    snapshot = json.loads(subprocess.run(base + ["snapshot", "--json"], check=True, capture_output=True,
                                         text=True).stdout)
    load(binary, tmp, db, "covariate-shift", rows, 2)
    return base, db, snapshot["max_id"]


def python_check(db, after_id):
    """The Python drift job: read the rows since the snapshot, compute the statistics."""
    sys.path.insert(0, os.path.join(HERE, "..", "data-fixtures", "drift"))
    import pandas as pd
    import pymysql
    from scipy_reference import COLUMNS, column_stats

    conn = pymysql.connect(host=HOST, port=PORT, user=USER, database=db)
    names = ", ".join(name for name, _ in COLUMNS)
    reference = pd.read_sql(f"SELECT {names} FROM features WHERE id <= {after_id}", conn)
    current = pd.read_sql(f"SELECT {names} FROM features WHERE id > {after_id}", conn)
    conn.close()
    stats = [column_stats(name, levels, reference.astype(str), current.astype(str)) for name, levels in COLUMNS]
    print(json.dumps({"columns": len(stats), "rows": len(current)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated N")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    parser.add_argument("--python-check", nargs=2, metavar=("DB", "AFTER_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_check:
        python_check(args.python_check[0], int(args.python_check[1]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| rows (reference = current) | driftloop drift job | peak RSS | pandas + SciPy job | peak RSS |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            base, db, after_id = prepare(args.driftloop, tmp, rows)
            ours, theirs = [], []
            for attempt in range(args.repeat):
                # Every attempt answers the same burst: the jobs go back to pending.
                mariadb("-e", "UPDATE jobs SET status = 'pending', lease_until = NULL WHERE kind = 'drift'; "
                              "DELETE FROM jobs WHERE kind = 'train'; DELETE FROM drift_reports", db=db)
                out, wall, rss = run_measured(base + ["drift", "--json"], env={**os.environ, "RUST_LOG": "warn"})
                answer = json.loads(out)
                assert len(answer["jobs"]) == 1 and answer["jobs"][0]["n_current"] == rows, answer
                assert answer["jobs"][0]["drift"], "the covariate shift is found"
                ours.append((wall, rss))
                _, wall, rss = run_measured([sys.executable, __file__, "--driftloop", args.driftloop,
                                             "--python-check", db, str(after_id)])
                theirs.append((wall, rss))
            best = min(ours)
            best_rss = max(r for _, r in ours)
            ref = min(theirs)
            ref_rss = max(r for _, r in theirs)
            print(f"| {rows:,} | {best[0]:.2f} s | {best_rss:.0f} MB | {ref[0]:.2f} s | {ref_rss:.0f} MB |")
            label = f"drift job over MariaDB, {rows:,} + {rows:,} rows"
            record(args.summary, label, "seconds", best[0], "pandas.read_sql + SciPy", ref[0], False, "s")
            record(args.summary, label, "peak RSS", best_rss, "pandas.read_sql + SciPy", ref_rss, False, "MB")
            mariadb("-e", f"DROP DATABASE {db}")


if __name__ == "__main__":
    main()
