"""Drift check of 1,000,000 current rows against 1,000,000 reference rows, 17 columns plus
the label: driftloop (`driftloop drift`, Polars) beside the Python reference implementation
of the same statistics (pandas value_counts + scipy chi2_contingency + NumPy PSI, from
data-fixtures/drift/scipy_reference.py) on the same Parquet files, in the same run; once on
files whose categories are strings, once on files whose categories are categoricals
(pandas' `category` dtype, Parquet dictionaries), and once on the CSV files they were made
from (pandas.read_csv against driftloop's CSV reader, which checks every cell)."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "data-fixtures", "drift"))
from scipy_reference import COLUMNS, column_stats  # noqa: E402
from drift_job import run_measured  # noqa: E402
from summary import record  # noqa: E402


def make_parquet(binary, tmp, name, scenario, rows, seed):
    """The rows as CSV and as two Parquet files: categories as strings, and as categoricals."""
    csv = os.path.join(tmp, f"{name}.csv")
    subprocess.run([binary, "fixtures", "generate", "--rows", str(rows), "--seed", str(seed), "--scenario", scenario,
                    "--out", csv], check=True, capture_output=True)
    paths = {"csv": csv}
    for layout, dtype in [("strings", str), ("categoricals", "category")]:
        paths[layout] = os.path.join(tmp, f"{name}-{layout}.parquet")
        pd.read_csv(csv, dtype=dtype).to_parquet(paths[layout], compression="zstd")
    return paths


def python_drift(reference_path, current_path):
    started = time.perf_counter()
    read = (lambda path: pd.read_csv(path, dtype=str)) if reference_path.endswith(".csv") else pd.read_parquet
    reference = read(reference_path)
    current = read(current_path)
    read = time.perf_counter() - started
    started = time.perf_counter()
    stats = [column_stats(name, levels, reference, current) for name, levels in COLUMNS]
    return stats, read, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        references = make_parquet(args.driftloop, tmp, "reference", "baseline", args.rows, 1)
        currents = make_parquet(args.driftloop, tmp, "current", "covariate-shift", args.rows, 2)
        results = {}
        for layout in ["strings", "categoricals", "csv"]:
            reference, current = references[layout], currents[layout]
            ours, theirs = [], []
            for _ in range(args.repeat):
                out, wall, rss = run_measured([args.driftloop, "drift", "--reference", reference, "--current",
                                               current, "--json"])
                report = json.loads(out)
                ours.append((report["read_seconds"], report["compare_seconds"], wall, rss))
                stats, read, compute = python_drift(reference, current)
                theirs.append((read, compute, read + compute))
            # Same numbers from both, or the timing comparison means nothing.
            for ours_col, ref_col in zip(report["columns"] + [report["label"]], stats):
                assert abs(ours_col["chi2"] - ref_col["chi2"]) <= 1e-9 * max(1.0, ref_col["chi2"]), (ours_col["name"],)
            results[layout] = (ours, theirs)
    print(f"\nDrift check, {args.rows:,} reference vs {args.rows:,} current rows, 17 columns + label "
          f"({args.repeat} runs each; same Parquet files; same statistics). driftloop's first column is "
          "reading the files and counting their values, pandas' is reading them (value_counts is in its second)")
    print()
    print("| files | implementation | read s (best) | statistics s (best) | total s (best) | median total s "
          "| peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for layout, (ours, theirs) in results.items():
        for name, runs in [("driftloop drift (whole process)", ours),
                           ("pandas value_counts + scipy chi2_contingency + NumPy PSI", theirs)]:
            rss = f"{max(r[3] for r in runs):.0f}" if len(runs[0]) > 3 else "—"
            print(f"| {layout} | {name} | {min(r[0] for r in runs):.3f} | {min(r[1] for r in runs):.3f} | "
                  f"{min(r[2] for r in runs):.3f} | {statistics.median(r[2] for r in runs):.3f} | {rss} |")
    print()
    reference_name = "pandas + scipy chi2_contingency + NumPy PSI"
    for layout, (ours, theirs) in results.items():
        best_ours, best_theirs = min(r[2] for r in ours), min(r[2] for r in theirs)
        print(f"{layout}: driftloop end to end {best_theirs / best_ours:.1f}x faster (goal: 10x)")
        kind = "CSV" if layout == "csv" else f"Parquet, {layout}"
        comparison = f"drift check of files, {args.rows:,} vs {args.rows:,} rows, 18 columns, {kind}"
        record(args.summary, comparison, "end to end incl. read (best)", best_ours, reference_name,
               best_theirs, higher_is_better=False, unit="s")
    strings, categoricals = (min(r[2] for r in results[k][0]) for k in ("strings", "categoricals"))
    print(f"driftloop on categoricals / on strings: {categoricals / strings:.2f} (goal: no slower, <= 1)")


if __name__ == "__main__":
    main()
