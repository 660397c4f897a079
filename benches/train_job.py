"""The train job over MariaDB as the rows grow: for N in --sizes (default 100,000 and
1,000,000) labelled rows, the whole `driftloop train` (bulk read, Parquet snapshot, every
family's cross-validated grid on its stratified sample, the refit of the chosen candidate,
registration) in its own process: seconds and peak RSS, beside the in-memory (Arrow) size of
the snapshot's rows, and with `max_train_rows` at its default and at a quarter of N, so the
table shows what the setting buys; then the retraining from the snapshot the job wrote
(`train --from-snapshot`, what repeats a training exactly), which reads the Parquet file
instead of the database. There is no reference implementation to run beside it:
the numbers are there to size the train function (memory, `max_train_rows`)."""

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from drift_job import HOST, PORT, USER, load, mariadb, run_measured  # noqa: E402
from summary import record  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (best reported)")
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            db = f"driftloop_bench_train_{rows}"
            mariadb("-e", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}")
            url = f"mysql://{USER}@{HOST}:{PORT}/{db}"
            base = [args.driftloop, "--database-url", url, "--store", os.path.join(tmp, f"store-{rows}")]
            run_measured(base + ["db", "migrate"])
            load(args.driftloop, tmp, db, "baseline", rows, 3)
            snapshot = None
            # The job from the rows, at the default cap and a quarter of N; then the retraining
            # from the snapshot it wrote (`train --from-snapshot`, what repeats a training).
            for cap, source in [(None, "rows"), (rows // 4, "rows"), (None, "snapshot")]:
                env = {**os.environ, "RUST_LOG": "warn"}
                env.pop("MLFLOW_TRACKING_URI", None)
                if cap:
                    env["DRIFTLOOP_MAX_TRAIN_ROWS"] = str(cap)
                command = base + ["train", "--json"]
                if source == "snapshot":
                    command += ["--from-snapshot", snapshot]
                best = None
                for _ in range(args.repeat):
                    out, wall, rss = run_measured(command, env=env)
                    if best is None or wall < best[0]:
                        best = (wall, rss, json.loads(out))
                wall, rss, outcome = best
                snapshot = snapshot or outcome["snapshot"]["uri"]
                arrow = outcome["frame_bytes"]
                rows_out.append((rows, cap, source, wall, rss, outcome["training_rows"], outcome.get("sampled_from"),
                                 arrow, outcome["family"]))
            mariadb("-e", f"DROP DATABASE {db}")
    print(f"\nWhole train job over MariaDB (bulk read, snapshot, grid, refit, register), best of {args.repeat}\n")
    print("| rows | max_train_rows | from | seconds | peak RSS MB | rows fitted | snapshot in memory MB "
          "| RSS / snapshot | chosen |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for rows, cap, source, wall, rss, fitted, sampled, arrow, family in rows_out:
        arrow_mb = arrow / 2**20 if arrow else None
        ratio = f"{rss / arrow_mb:.1f}x" if arrow_mb else "—"
        arrow_text = f"{arrow_mb:.1f}" if arrow_mb else "—"
        print(f"| {rows:,} | {cap or 'default'} | {source} | {wall:.1f} | {rss:.0f} | {fitted:,} | {arrow_text} "
              f"| {ratio} | {family} |")
        what = "whole train job" if source == "rows" else "retraining from its snapshot"
        record(args.summary, f"{what}, {rows:,} rows, max_train_rows {cap or 'default'}", "peak RSS MB",
               rss, "(no reference)", None, higher_is_better=False, unit="MB")


if __name__ == "__main__":
    main()
