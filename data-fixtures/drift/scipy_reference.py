"""The reference implementation of driftloop's drift statistics, in pandas, NumPy and
SciPy: per column, counts over the union of categories seen in either file, PSI with zero
proportions replaced by 1e-4, and scipy.stats.chi2_contingency(table, correction=False).

    python scipy_reference.py            writes expected.json beside this file
    python scipy_reference.py --check    fails if expected.json differs from a fresh run

The Rust tests compare driftloop's numbers with expected.json to 1e-9."""

import json
import math
import os
import sys

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(HERE)
EPSILON = 1e-4
FREQUENCY = ["Seldom", "Sometimes", "Usually", "Most-Often"]
YES_NO = ["NO", "YES"]
SCORES = [str(i) for i in range(1, 11)]
COLUMNS = (
    [(c, FREQUENCY) for c in ["sadness", "euphoric", "exhausted", "sleep_disorder"]]
    + [(c, YES_NO) for c in ["mood_swing", "suicidal_thoughts", "anorexia", "authority_respect", "try_explanation",
                              "aggressive_response", "ignore_and_move_on", "nervous_breakdown", "admit_mistakes",
                              "overthinking"]]
    + [(c, SCORES) for c in ["sexual_activity", "concentration", "optimism"]]
    + [("diagnosis", ["Normal", "Bipolar Type-1", "Bipolar Type-2", "Depression"])]
)
PAIRS = {
    "baseline-vs-covariate-shift": ("baseline-120.csv", "covariate-shift-1000.csv"),
    "baseline-vs-label-shift": ("baseline-120.csv", "label-shift-1000.csv"),
    "baseline-vs-baseline": ("baseline-120.csv", "baseline-1000.csv"),
}


def column_stats(name, levels, reference, current):
    ref_counts = reference[name].astype(str).value_counts()
    cur_counts = current[name].astype(str).value_counts()
    seen = [v for v in levels if ref_counts.get(v, 0) + cur_counts.get(v, 0) > 0]
    ref = np.array([ref_counts.get(v, 0) for v in seen], dtype=float)
    cur = np.array([cur_counts.get(v, 0) for v in seen], dtype=float)
    p_ref = np.where(ref > 0, ref / ref.sum(), EPSILON)
    p_cur = np.where(cur > 0, cur / cur.sum(), EPSILON)
    psi = float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))
    if len(seen) > 1:
        chi2, p_value, dof, _ = chi2_contingency(np.vstack([ref, cur]), correction=False)
    else:
        chi2, p_value, dof = 0.0, 1.0, 0
    return {"name": name, "values": seen, "reference_counts": ref.astype(int).tolist(),
            "current_counts": cur.astype(int).tolist(), "psi": psi, "chi2": float(chi2),
            "dof": int(dof), "p_value": float(p_value)}


def expectations():
    out = {}
    for pair, (ref_file, cur_file) in PAIRS.items():
        reference = pd.read_csv(os.path.join(FIXTURES, ref_file), dtype=str)
        current = pd.read_csv(os.path.join(FIXTURES, cur_file), dtype=str)
        out[pair] = {"reference": ref_file, "current": cur_file,
                     "columns": [column_stats(name, levels, reference, current) for name, levels in COLUMNS]}
    return out


def main():
    fresh = expectations()
    path = os.path.join(HERE, "expected.json")
    if "--check" in sys.argv:
        with open(path) as f:
            committed = json.load(f)
        for pair, got in fresh.items():
            for want_col, got_col in zip(committed[pair]["columns"], got["columns"]):
                for key in ("psi", "chi2", "p_value"):
                    a, b = want_col[key], got_col[key]
                    if not math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300):
                        sys.exit(f"{pair} {got_col['name']} {key}: committed {a}, scipy now {b}")
                if want_col["dof"] != got_col["dof"] or want_col["values"] != got_col["values"]:
                    sys.exit(f"{pair} {got_col['name']}: categories or dof differ")
        print(f"expected.json matches scipy: {sum(len(p['columns']) for p in fresh.values())} columns checked")
    else:
        with open(path, "w") as f:
            json.dump(fresh, f, indent=1)
            f.write("\n")
        print("wrote", path)


if __name__ == "__main__":
    main()
