"""Snapshot of the feature table as Parquet: driftloop (Polars writer, zstd, statistics,
dictionary-encoded categories, content hash) beside pyarrow writing the same table with
the same codec, in the same run. Uses the bench database that bulk_read.py fills."""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import pyarrow.parquet as pq

from summary import record

URL = "mysql://root@127.0.0.1:3306/driftloop_bench"


def driftloop_snapshot(binary, store):
    out = subprocess.run([binary, "--database-url", URL, "--store", store, "snapshot", "--json"],
                         check=True, capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"}).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()

    rows = size = None
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            store = os.path.join(tmp, f"store-{run}")  # a fresh store: content addressing would skip the upload
            answer = driftloop_snapshot(args.driftloop, store)
            assert answer["uploaded"], answer
            rows, size = answer["rows"], answer["size_bytes"]
            ours.append(answer["write_seconds"])
            parquet = os.path.join(store, answer["key"])
        table = pq.read_table(parquet)
        pyarrow_size = 0
        for run in range(args.repeat):
            path = os.path.join(tmp, f"pyarrow-{run}.parquet")
            started = time.perf_counter()
            pq.write_table(table, path, compression="zstd", use_dictionary=True, write_statistics=True,
                           row_group_size=128 * 1024)
            theirs.append(time.perf_counter() - started)
            pyarrow_size = os.path.getsize(path)

    print(f"\nSnapshot of {rows:,} feature rows to Parquet (zstd), {args.repeat} runs each")
    print()
    print("| writer | rows/s (best) | MB/s (best) | median s | file MB |")
    print("|---|---:|---:|---:|---:|")
    for name, timings, nbytes in [
        ("driftloop snapshot (encode + sha256 + store put)", ours, size),
        ("pyarrow.parquet.write_table (same table, zstd)", theirs, pyarrow_size),
    ]:
        best = min(timings)
        print(f"| {name} | {rows / best:,.0f} | {nbytes / best / 1e6:,.1f} | {statistics.median(timings):.3f} | {nbytes / 1e6:.1f} |")
    print(f"\ndriftloop / pyarrow (rows/s): {min(theirs) / min(ours):.2f}x")
    record(args.summary, f"snapshot to Parquet (zstd), {rows:,} rows", "rows/s (best)", rows / min(ours),
           "pyarrow.parquet.write_table", rows / min(theirs), higher_is_better=True)


if __name__ == "__main__":
    main()
