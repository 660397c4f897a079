"""The reference implementation of driftloop's drift statistics on the Palmer penguins
(../shared/data/penguins-344.csv), in pandas, NumPy and SciPy, for the columns a dataset
file declares: levels and narrow integers counted value by value, numbers binned at the
reference's deciles, missing values as a category of their own, PSI with zero proportions
replaced by 1e-4, scipy.stats.chi2_contingency(table, correction=False), and
scipy.stats.ks_2samp(reference, current) with its default method for the numbers.

Two pairs, both against the published 344 rows:
  heavier    every body mass 400 g more (a planted shift in one continuous column);
  resample   172 of the same penguins drawn without replacement (numpy's
             RandomState(20261203).permutation, first half; no shift). Their line numbers
             are stored in expected.json, so the Rust tests draw the same rows.

    python scipy_reference.py            writes expected.json beside this file
    python scipy_reference.py --check    fails if expected.json differs from a fresh run
    python scipy_reference.py --write-pairs DIR   writes the two current files into DIR

The Rust tests compare driftloop's reports with expected.json to 1e-9."""

import json
import math
import os
import sys

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

HERE = os.path.dirname(os.path.abspath(__file__))
PUBLISHED = os.path.join(HERE, "..", "..", "..", "shared", "data", "penguins-344.csv")
EPSILON = 1e-4
MISSING = "missing"
# (name, kind, levels or None, nullable), in the order of dataset.toml; the label last.
COLUMNS = [
    ("island", "levels", ["Biscoe", "Dream", "Torgersen"], False),
    ("bill_length_mm", "number", None, True),
    ("bill_depth_mm", "number", None, True),
    ("flipper_length_mm", "number", None, True),
    ("body_mass_g", "number", None, True),
    ("sex", "levels", ["female", "male"], True),
    ("year", "levels", ["2007", "2008", "2009"], False),
    ("species", "levels", ["Adelie", "Chinstrap", "Gentoo"], False),
]
SHIFT_GRAMS = 400
RESAMPLE_SEED = 20261203


def published():
    return pd.read_csv(PUBLISHED, dtype=str, keep_default_na=False)


def pairs():
    rows = published()
    heavier = rows.copy()
    heavier["body_mass_g"] = [v if v == "NA" else str(int(v) + SHIFT_GRAMS) for v in rows["body_mass_g"]]
    resample = rows.iloc[resample_positions()].reset_index(drop=True)
    return {"heavier": heavier, "resample": resample}


def resample_positions():
    return sorted(np.random.RandomState(RESAMPLE_SEED).permutation(344)[:172].tolist())


def counted(name, values, ref, cur):
    """ref, cur: the categories of every row, as strings."""
    ref_counts, cur_counts = pd.Series(ref).value_counts(), pd.Series(cur).value_counts()
    seen = [v for v in values if ref_counts.get(v, 0) + cur_counts.get(v, 0) > 0]
    r = np.array([ref_counts.get(v, 0) for v in seen], dtype=float)
    c = np.array([cur_counts.get(v, 0) for v in seen], dtype=float)
    p_r = np.where(r > 0, r / r.sum(), EPSILON)
    p_c = np.where(c > 0, c / c.sum(), EPSILON)
    psi = float(np.sum((p_c - p_r) * np.log(p_c / p_r)))
    if len(seen) > 1:
        chi2, p_value, dof, _ = chi2_contingency(np.vstack([r, c]), correction=False)
    else:
        chi2, p_value, dof = 0.0, 1.0, 0
    return {"name": name, "values": seen, "reference_counts": r.astype(int).tolist(),
            "current_counts": c.astype(int).tolist(), "psi": psi, "chi2": float(chi2), "dof": int(dof),
            "p_value": float(p_value)}


def bin_name(edges, i):
    # driftloop names a bin by its edges as Rust prints an f64 (shortest round trip).
    fmt = lambda x: repr(float(x)).removesuffix(".0") if float(x).is_integer() else repr(float(x))
    if i == 0:
        return f"< {fmt(edges[0])}"
    if i == len(edges):
        return f"≥ {fmt(edges[-1])}"
    return f"[{fmt(edges[i - 1])}, {fmt(edges[i])})"


def continuous(name, nullable, ref_text, cur_text):
    ref = np.array([float(v) for v in ref_text if v != "NA"])
    cur = np.array([float(v) for v in cur_text if v != "NA"])
    edges = list(dict.fromkeys(np.quantile(ref, [k / 10 for k in range(1, 10)]).tolist()))
    # A value's bin: the number of edges at or below it.
    ref_bins = [bin_name(edges, int(np.searchsorted(edges, v, side="right"))) for v in ref]
    cur_bins = [bin_name(edges, int(np.searchsorted(edges, v, side="right"))) for v in cur]
    names = [bin_name(edges, i) for i in range(len(edges) + 1)]
    if nullable:
        names.append(MISSING)
        ref_bins += [MISSING] * (len(ref_text) - len(ref))
        cur_bins += [MISSING] * (len(cur_text) - len(cur))
    out = counted(name, names, ref_bins, cur_bins)
    ks = ks_2samp(ref, cur)
    out["edges"] = edges
    n = max(len(ref), len(cur))
    out["ks"] = {"statistic": float(ks.statistic), "p_value": float(ks.pvalue),
                 "method": "exact" if n <= 10_000 else "asymptotic"}
    return out


def expectations():
    reference = published()
    out = {}
    for pair, current in pairs().items():
        columns = []
        for name, kind, levels, nullable in COLUMNS:
            ref, cur = list(reference[name]), list(current[name])
            if kind == "number":
                columns.append(continuous(name, nullable, ref, cur))
            else:
                values = levels + ([MISSING] if nullable else [])
                fix = lambda vs: [MISSING if v == "NA" else v for v in vs]
                columns.append(counted(name, values, fix(ref), fix(cur)))
        out[pair] = {"current": f"{pair}.csv", "rows": [len(reference), len(current)], "columns": columns}
    # The 0-based positions (among the published data rows) of the resampled penguins.
    out["resample"]["positions"] = resample_positions()
    out["heavier"]["shift_grams"] = SHIFT_GRAMS
    return out


def main():
    if "--write-pairs" in sys.argv:
        folder = sys.argv[sys.argv.index("--write-pairs") + 1]
        for pair, current in pairs().items():
            current.to_csv(os.path.join(folder, f"{pair}.csv"), index=False)
        return
    fresh = expectations()
    path = os.path.join(HERE, "expected.json")
    if "--check" in sys.argv:
        with open(path) as f:
            committed = json.load(f)
        checked = 0
        for pair, got in fresh.items():
            if committed[pair].get("positions") != got.get("positions"):
                sys.exit(f"{pair}: the resampled rows differ")
            for want_col, got_col in zip(committed[pair]["columns"], got["columns"], strict=True):
                numbers = [(key, want_col[key], got_col[key]) for key in ("psi", "chi2", "p_value")]
                if "ks" in got_col:
                    numbers += [(f"ks.{key}", want_col["ks"][key], got_col["ks"][key])
                                for key in ("statistic", "p_value")]
                    numbers += [(f"edges[{i}]", a, b) for i, (a, b) in
                                enumerate(zip(want_col["edges"], got_col["edges"], strict=True))]
                for key, a, b in numbers:
                    if not math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300):
                        sys.exit(f"{pair} {got_col['name']} {key}: committed {a}, scipy now {b}")
                if want_col["dof"] != got_col["dof"] or want_col["values"] != got_col["values"]:
                    sys.exit(f"{pair} {got_col['name']}: categories or dof differ")
                checked += 1
        print(f"penguins expected.json matches scipy: {checked} columns checked")
    else:
        with open(path, "w") as f:
            json.dump(fresh, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("wrote", path)


if __name__ == "__main__":
    main()
