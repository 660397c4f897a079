"""The drift job over MariaDB as the rows grow: N reference rows (the snapshot the check
compares with) and N rows since, for N in --sizes (default 100,000 and 1,000,000).
driftloop's job (`driftloop drift`: the reference's counts from its manifest, the current
rows counted by the database) beside a Python drift job over the same rows (pandas.read_sql
of the rows since the snapshot over PyMySQL, then the statistics of
data-fixtures/drift/scipy_reference.py: pandas value counts, SciPy's chi2_contingency,
NumPy's PSI), each in its own process: seconds and peak RSS. driftloop is measured twice:
the first check, which counts every row since the snapshot, and the next one after 1 % more
rows arrived, which counts only those and adds the profile the first check kept.

The rows are loaded with the server's LOAD DATA LOCAL INFILE (the trigger counts them and
queues a drift job every 100 rows, so the check answers a burst of N/100 jobs). With
--burst-jobs, the first check of the smallest N is run again with that many more drift jobs
pending (what ten million rows queue), so the cost of a burst's jobs shows apart from the
rows'."""

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


# A process's peak RSS on Linux starts from the one it was forked from (the high-water mark
# survives fork and exec), so a command forked straight from this process, which may hold
# pandas frames, would report this process's memory. A fresh, small Python forks it
# instead and writes the command's own ru_maxrss (KiB) to a file.
PROBE = ("import os, sys\n"
         "pid = os.fork()\n"
         "if pid == 0:\n"
         "    os.execvp(sys.argv[2], sys.argv[2:])\n"
         "_, status, usage = os.wait4(pid, 0)\n"
         "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
         "sys.exit(os.waitstatus_to_exitcode(status))\n")


def run_measured(command, env=None):
    """Runs a command and returns (stdout, wall seconds, peak RSS MB) of that process alone."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        out, wall = run_probed(command, rss_file.name, env)
        return out, wall, int(rss_file.read()) / 1024


def run_probed(command, rss_path, env):
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-S", "-c", PROBE, rss_path] + list(command), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    # Threads empty the pipes meanwhile.
    out_chunks, err_chunks = [], []

    def drain(stream, sink):
        sink.append(stream.read())

    threads = [threading.Thread(target=drain, args=(process.stdout, out_chunks)),
               threading.Thread(target=drain, args=(process.stderr, err_chunks))]
    for t in threads:
        t.start()
    process.wait()
    wall = time.perf_counter() - started
    for t in threads:
        t.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed ({process.returncode}): {''.join(err_chunks)[-2000:]}")
    return "".join(out_chunks), wall


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
    loaded = subprocess.run(["mariadb", "--protocol=tcp", "-h", HOST, "-P", str(PORT), "-u", USER, "-N", db, "-e",
                             "SELECT MAX(id) FROM features"], check=True, capture_output=True, text=True)
    return base, db, snapshot["max_id"], int(loaded.stdout.strip())


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


def reset(db, loaded_max_id):
    """Back to the state after loading: the jobs pending again, no check recorded, the
    rows a previous attempt added gone."""
    after_rows = loaded_max_id
    mariadb("-e", f"DELETE FROM features WHERE id > {after_rows}; "
                  "UPDATE jobs SET status = 'pending', attempts = 0, lease_until = NULL WHERE kind = 'drift'; "
                  "DELETE FROM jobs WHERE kind = 'train' OR (kind = 'drift' AND "
                  f"JSON_VALUE(payload, '$.last_row_id') > {after_rows}); DELETE FROM drift_reports; "
                  "UPDATE drift_counter SET n = 0", db=db)


def add_jobs(db, n):
    """n more pending drift jobs, as the trigger queues them (MariaDB's sequence engine)."""
    mariadb("-e", "INSERT INTO jobs (kind, status, payload) SELECT 'drift', 'pending', "
                  f"JSON_OBJECT('reason', 'row_count', 'rows', 100, 'last_row_id', seq) FROM seq_1_to_{n}", db=db)


def check(base, expect_rows, expect_counted):
    out, wall, rss = run_measured(base + ["drift", "--json"], env={**os.environ, "RUST_LOG": "warn"})
    answer = json.loads(out)
    assert len(answer["jobs"]) == 1, answer
    job = answer["jobs"][0]
    assert (job["n_current"], job["counted_rows"]) == (expect_rows, expect_counted), job
    assert job["drift"], "the covariate shift is found"
    return wall, rss, job["count_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated N")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    parser.add_argument("--reference-max-rows", type=int, default=1_000_000,
                        help="run the pandas + SciPy job up to this many rows (it reads them all into memory)")
    parser.add_argument("--burst-jobs", type=int, default=100_000,
                        help="run the smallest N's first check again with this many more jobs pending (0: no)")
    parser.add_argument("--python-check", nargs=2, metavar=("DB", "AFTER_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_check:
        python_check(args.python_check[0], int(args.python_check[1]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| rows since the snapshot (and in it) | driftloop: first check | of which counting | peak RSS "
          "| next check, 1 % new rows | peak RSS | pandas + SciPy job | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    bursts = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            base, db, after_id, loaded_max_id = prepare(args.driftloop, tmp, rows)
            extra = rows // 100
            first, second, theirs = [], [], []
            for _ in range(args.repeat):
                reset(db, loaded_max_id)
                # The first check counts every row since the snapshot (a burst of rows/100 jobs).
                first.append(check(base, rows, rows))
                # 1 % more rows: the next check counts only them.
                load(args.driftloop, tmp, db, "covariate-shift", extra, 3)
                second.append(check(base, rows + extra, extra))
                if rows <= args.reference_max_rows:
                    _, wall, rss = run_measured([sys.executable, __file__, "--driftloop", args.driftloop,
                                                 "--python-check", db, str(after_id)])
                    theirs.append((wall, rss))
            if args.burst_jobs and rows == min(sizes):
                burst = []
                for _ in range(args.repeat):
                    reset(db, loaded_max_id)
                    add_jobs(db, args.burst_jobs)
                    burst.append(check(base, rows, rows))
                bursts.append((rows, rows // 100, min(r[0] for r in first), max(r[1] for r in first),
                               rows // 100 + args.burst_jobs, min(r[0] for r in burst), max(r[1] for r in burst)))
            counting = min(c for _, _, c in first)
            (f, f_rss), (n, n_rss), (p, p_rss) = (
                (min(r[0] for r in runs), max(r[1] for r in runs)) if runs else (None, None)
                for runs in (first, second, theirs))
            reference = f"{p:.2f} s | {p_rss:.0f} MB" if theirs else "not run | —"
            print(f"| {rows:,} | {f:.2f} s | {counting:.2f} s | {f_rss:.0f} MB | {n:.2f} s | {n_rss:.0f} MB "
                  f"| {reference} |")
            label = f"drift job over MariaDB, {rows:,} rows since the snapshot"
            record(args.summary, f"{label}, first check", "seconds (best)", f, "pandas.read_sql + SciPy", p, False, "s")
            record(args.summary, f"{label}, first check", "peak RSS", f_rss, "pandas.read_sql + SciPy", p_rss,
                   False, "MB")
            record(args.summary, f"{label}, next check (1 % new)", "seconds (best)", n, "pandas.read_sql + SciPy", p,
                   False, "s")
            record(args.summary, f"{label}, next check (1 % new)", "peak RSS", n_rss, "pandas.read_sql + SciPy",
                   p_rss, False, "MB")
            mariadb("-e", f"DROP DATABASE {db}")
    for rows, jobs, f, f_rss, burst_jobs, b, b_rss in bursts:
        print(f"\nThe first check over {rows:,} rows answering {jobs:,} jobs: {f:.2f} s, {f_rss:.0f} MB; "
              f"answering {burst_jobs:,} jobs: {b:.2f} s, {b_rss:.0f} MB")
        record(args.summary, f"drift job over MariaDB, {rows:,} rows, a burst of {burst_jobs:,} jobs",
               "peak RSS", b_rss, f"the same check answering {jobs:,} jobs", f_rss, False, "MB")


if __name__ == "__main__":
    main()
