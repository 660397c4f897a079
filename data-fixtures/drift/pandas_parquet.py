"""Writes the Parquet files pandas (pyarrow) makes of covariate-shift-1000.csv, which the
pipeline's `drift_files` tests count as stored (dictionary pages) and compare with the CSV:

    categories-as-strings.parquet        text columns, data pages v1, zstd, one row group
    categories-as-categoricals.parquet   pandas categoricals, data pages v2, snappy,
                                         row groups of 300 rows

    python pandas_parquet.py   (pandas 3.1.1, pyarrow 25.0.1: scripts/requirements-test.txt)
"""

import os

import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
source = os.path.join(HERE, "..", "covariate-shift-1000.csv")
pd.read_csv(source, dtype=str).to_parquet(
    os.path.join(HERE, "categories-as-strings.parquet"), compression="zstd", index=False
)
pd.read_csv(source, dtype="category").to_parquet(
    os.path.join(HERE, "categories-as-categoricals.parquet"),
    compression="snappy",
    data_page_version="2.0",
    row_group_size=300,
    index=False,
)
