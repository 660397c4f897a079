"""Drift check of 1,000,000 current rows against 1,000,000 reference rows, 17 columns plus
the label: driftloop (`driftloop drift`, Polars) beside the Python reference implementation
of the same statistics (pandas value_counts + scipy chi2_contingency + NumPy PSI, from
data-fixtures/drift/scipy_reference.py) on the same Parquet files, in the same run."""

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
from summary import record  # noqa: E402


def make_parquet(binary, tmp, name, scenario, rows, seed):
    csv = os.path.join(tmp, f"{name}.csv")
    subprocess.run([binary, "fixtures", "generate", "--rows", str(rows), "--seed", str(seed), "--scenario", scenario,
                    "--out", csv], check=True, capture_output=True)
    path = os.path.join(tmp, f"{name}.parquet")
    pd.read_csv(csv, dtype=str).to_parquet(path, compression="zstd")
    return path


def python_drift(reference_path, current_path):
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
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
        reference = make_parquet(args.driftloop, tmp, "reference", "baseline", args.rows, 1)
        current = make_parquet(args.driftloop, tmp, "current", "covariate-shift", args.rows, 2)
        ours, theirs = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            out = subprocess.run([args.driftloop, "drift", "--reference", reference, "--current", current, "--json"],
                                 check=True, capture_output=True, text=True).stdout
            wall = time.perf_counter() - started
            report = json.loads(out)
            ours.append((report["read_seconds"], report["compare_seconds"], wall))
            stats, read, compute = python_drift(reference, current)
            theirs.append((read, compute, read + compute))
        # Same numbers from both, or the timing comparison means nothing.
        for ours_col, ref_col in zip(report["columns"] + [report["label"]], stats):
            assert abs(ours_col["chi2"] - ref_col["chi2"]) <= 1e-9 * max(1.0, ref_col["chi2"]), (ours_col["name"],)
    print(f"\nDrift check, {args.rows:,} reference vs {args.rows:,} current rows, 17 columns + label "
          f"({args.repeat} runs each; same Parquet files; same statistics)")
    print()
    print("| implementation | read s (best) | statistics s (best) | total s (best) | median total s |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in [("driftloop drift (Polars, one query per frame; total = whole process)", ours),
                       ("pandas value_counts + scipy chi2_contingency + NumPy PSI", theirs)]:
        print(f"| {name} | {min(r[0] for r in runs):.3f} | {min(r[1] for r in runs):.3f} | "
              f"{min(r[2] for r in runs):.3f} | {statistics.median(r[2] for r in runs):.3f} |")
    print(f"\nstatistics: driftloop {min(r[1] for r in theirs) / min(r[1] for r in ours):.1f}x faster; "
          f"end to end: {min(r[2] for r in theirs) / min(r[2] for r in ours):.1f}x")
    reference = "pandas + scipy chi2_contingency + NumPy PSI"
    comparison = f"drift check, {args.rows:,} vs {args.rows:,} rows, 18 columns"
    record(args.summary, comparison, "statistics (best)", min(r[1] for r in ours), reference,
           min(r[1] for r in theirs), higher_is_better=False, unit="s")
    record(args.summary, comparison, "end to end incl. Parquet read (best)", min(r[2] for r in ours), reference,
           min(r[2] for r in theirs), higher_is_better=False, unit="s")


if __name__ == "__main__":
    main()
