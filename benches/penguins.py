"""The second dataset, the Palmer penguins (data-fixtures/penguins/dataset.toml: numbers
with missing values, two categorical columns, an integer year), in the same run beside
the Python references:

- **training**, per model family, on the published 344 rows: driftloop
  (`driftloop --dataset penguins.toml train --input FILE --dry-run`) beside scikit-learn
  on the very same holdout rows and the very same five cross-validation folds, which
  driftloop reports (`holdout_rows`, `cv_folds`), over the same grid. scikit-learn's
  pipeline imputes like driftloop (median of a number, most frequent level), one-hot
  encodes the island and standardizes for logistic regression; its naive Bayes is
  GaussianNB (driftloop's cuts each measurement at its deciles instead). The goal:
  driftloop's accuracy within 2 points of scikit-learn's.
- **drift** of 1,000,000 synthetic penguin rows (`fixtures generate --dataset`, typed
  Parquet) against 1,000,000 others: driftloop beside pandas + NumPy + SciPy computing
  the same statistics vectorised (those of data-fixtures/penguins/scipy_reference.py:
  decile bins, PSI, chi-square, ks_2samp), their chi-square and KS statistic checked
  equal."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data-fixtures", "penguins"))
from scipy_reference import COLUMNS  # noqa: E402
from summary import record  # noqa: E402

DATASET = os.path.join(HERE, "..", "data-fixtures", "penguins", "dataset.toml")
PUBLISHED = os.path.join(HERE, "..", "..", "shared", "data", "penguins-344.csv")
CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def preprocess(scale):
    numbers = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    return ColumnTransformer([
        ("island", OneHotEncoder(categories=[["Biscoe", "Dream", "Torgersen"]]), ["island"]),
        ("sex", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OrdinalEncoder(categories=[["female", "male"]])), ["sex"]),
        ("numbers", make_pipeline(*numbers), NUMBERS),
        ("year", StandardScaler() if scale else "passthrough", ["year"]),
    ])


# driftloop's default grid, in scikit-learn's terms (see benches/train.py for the mapping).
GRIDS = {
    "logistic_regression": (
        make_pipeline(preprocess(True), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": [1 / 0.01, 1 / 0.1, 1 / 1.0]},
    ),
    "random_forest": (
        make_pipeline(preprocess(False), RandomForestClassifier(n_estimators=100, max_features="sqrt",
                                                                random_state=42)),
        [{"randomforestclassifier__max_depth": [None], "randomforestclassifier__min_samples_leaf": [1, 3]},
         {"randomforestclassifier__max_depth": [8], "randomforestclassifier__min_samples_leaf": [1]}],
    ),
    "decision_tree": (
        make_pipeline(preprocess(False), DecisionTreeClassifier(random_state=42)),
        [{"decisiontreeclassifier__max_depth": [4, 8], "decisiontreeclassifier__min_samples_leaf": [1]},
         {"decisiontreeclassifier__max_depth": [None], "decisiontreeclassifier__min_samples_leaf": [3]}],
    ),
    "naive_bayes": (
        make_pipeline(preprocess(False), GaussianNB()),
        {"gaussiannb__var_smoothing": [1e-9]},
    ),
}


def published():
    frame = pd.read_csv(PUBLISHED, na_values=["NA"], keep_default_na=False)
    y = frame["species"].map({c: k for k, c in enumerate(CLASSES)}).to_numpy()
    return frame.drop(columns=["species"]), y


def driftloop_train(binary, family):
    out = subprocess.run([binary, "--dataset", DATASET, "train", "--input", PUBLISHED, "--dry-run", "--family",
                          family.replace("_", "-"), "--json"], check=True, capture_output=True, text=True).stdout
    answer = json.loads(out)
    chosen = next(c for c in answer["cv"] if c["candidate"] == answer["chosen"])
    return answer["train_seconds"], answer, chosen


def sklearn_train(x, y, family, answer):
    """scikit-learn on driftloop's holdout rows and its cross-validation folds."""
    estimator, grid = GRIDS[family]
    held = np.zeros(len(y), dtype=bool)
    held[answer["holdout_rows"]] = True
    fold_of = np.full(len(y), -1)
    for k, rows in enumerate(answer["cv_folds"]):
        fold_of[rows] = k
    training = np.flatnonzero(~held)
    assert (fold_of[training] >= 0).all() and (fold_of[held] == -1).all(), "the folds split the training rows"
    started = time.perf_counter()
    search = GridSearchCV(estimator, grid, scoring={"f1": "f1_macro", "accuracy": "accuracy"}, refit="f1",
                          n_jobs=-1, cv=PredefinedSplit(fold_of[training]))
    search.fit(x.iloc[training], y[training])
    seconds = time.perf_counter() - started
    predicted = search.predict(x[held])
    best = search.best_index_
    return (seconds, accuracy_score(y[held], predicted), f1_score(y[held], predicted, average="macro"),
            search.cv_results_["mean_test_accuracy"][best])


def typed_parquet(binary, tmp, name, scenario, rows, seed):
    csv = os.path.join(tmp, f"{name}.csv")
    subprocess.run([binary, "--dataset", DATASET, "fixtures", "generate", "--rows", str(rows), "--seed", str(seed),
                    "--scenario", scenario, "--out", csv], check=True, capture_output=True)
    frame = pd.read_csv(csv, dtype={"island": str, "sex": str, "species": str}, keep_default_na=False,
                        na_values={c: [""] for c in NUMBERS})
    frame["sex"] = frame["sex"].replace("", None)
    path = os.path.join(tmp, f"{name}.parquet")
    frame.to_parquet(path, compression="zstd")
    return path


def table_stats(name, ref, cur):
    """PSI and chi-square of two count vectors over the categories seen in either."""
    seen = (ref + cur) > 0
    r, c = ref[seen].astype(float), cur[seen].astype(float)
    p_r = np.where(r > 0, r / r.sum(), 1e-4)
    p_c = np.where(c > 0, c / c.sum(), 1e-4)
    psi = float(np.sum((p_c - p_r) * np.log(p_c / p_r)))
    chi2 = chi2_contingency(np.vstack([r, c]), correction=False)[0] if seen.sum() > 1 else 0.0
    return {"name": name, "psi": psi, "chi2": float(chi2)}


def python_drift(reference_path, current_path):
    """The same statistics as driftloop's, vectorised in pandas and NumPy."""
    started = time.perf_counter()
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    read = time.perf_counter() - started
    started = time.perf_counter()
    out = []
    for name, kind, levels, nullable in COLUMNS:
        r, c = reference[name], current[name]
        if kind == "number":
            rv, cv = r.dropna().to_numpy(), c.dropna().to_numpy()
            edges = np.unique(np.quantile(rv, [k / 10 for k in range(1, 10)]))
            counts = [np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1) for v in (rv, cv)]
            if nullable:
                counts = [np.append(n, int(col.isna().sum())) for n, col in zip(counts, (r, c))]
            stats = table_stats(name, *counts)
            ks = ks_2samp(rv, cv)
            stats["ks"] = {"statistic": float(ks.statistic), "p_value": float(ks.pvalue)}
        else:
            values = levels + (["missing"] if nullable else [])
            counts = [col.astype(str).where(col.notna(), "missing").value_counts().reindex(values, fill_value=0)
                      .to_numpy() for col in (r, c)]
            stats = table_stats(name, *counts)
        out.append(stats)
    return out, read, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each synthetic drift file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()

    x, y = published()
    print(f"\nPenguins (344 published rows), training per family: driftloop vs scikit-learn on the same "
          f"holdout rows and the same 5 CV folds (best of {args.repeat}; time = CV grid search + refit)\n")
    print("| family | driftloop s | sklearn s | driftloop CV acc / holdout acc / macro-F1 "
          "| sklearn CV acc / holdout acc / macro-F1 | accuracy gap (points) |")
    print("|---|---:|---:|---|---|---:|")
    for family in GRIDS:
        ours = [driftloop_train(args.driftloop, family) for _ in range(args.repeat)]
        seconds, answer, chosen = ours[0]
        assert answer["rows"] == len(y), "driftloop read every row of the file"
        theirs = [sklearn_train(x, y, family, answer) for _ in range(args.repeat)]
        t_ours, t_theirs = min(r[0] for r in ours), min(r[0] for r in theirs)
        _, acc, f1, cv_acc = theirs[0]
        ours_acc = answer["holdout"]["accuracy"]
        gap = 100 * (cv_acc - chosen["mean_accuracy"])
        print(f"| {family} | {t_ours:.3f} | {t_theirs:.3f} | {chosen['mean_accuracy']:.3f} / {ours_acc:.3f} / "
              f"{answer['holdout']['macro_f1']:.3f} | {cv_acc:.3f} / {acc:.3f} / {f1:.3f} | {gap:+.1f} |")
        record(args.summary, f"penguins training {family}, 344 rows",
               f"CV grid + refit s (best); 5-fold accuracy {chosen['mean_accuracy']:.3f} vs {cv_acc:.3f}", t_ours,
               "scikit-learn GridSearchCV, same folds", t_theirs, higher_is_better=False, unit="s")

    with tempfile.TemporaryDirectory() as tmp:
        reference = typed_parquet(args.driftloop, tmp, "reference", "baseline", args.rows, 1)
        current = typed_parquet(args.driftloop, tmp, "current", "covariate-shift", args.rows, 2)
        ours, theirs = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            out = subprocess.run([args.driftloop, "--dataset", DATASET, "drift", "--reference", reference,
                                  "--current", current, "--json"], check=True, capture_output=True, text=True).stdout
            wall = time.perf_counter() - started
            report = json.loads(out)
            ours.append((report["read_seconds"], report["compare_seconds"], wall))
            stats, read, compute = python_drift(reference, current)
            theirs.append((read, compute, read + compute))
        for o, t in zip(report["columns"] + [report["label"]], stats, strict=True):
            assert abs(o["chi2"] - t["chi2"]) <= 1e-9 * max(1.0, t["chi2"]), (o["name"], o["chi2"], t["chi2"])
            if "ks" in t:
                assert abs(o["ks"]["statistic"] - t["ks"]["statistic"]) <= 1e-12, o["name"]
    print(f"\nPenguins drift check, {args.rows:,} synthetic reference vs {args.rows:,} current rows (covariate "
          f"shift), 7 columns + label, 4 of them continuous with missing values ({args.repeat} runs each)\n")
    print("| implementation | read s (best) | statistics s (best) | total s (best) |")
    print("|---|---:|---:|---:|")
    for name, runs in [("driftloop drift (Polars; total = whole process)", ours),
                       ("pandas + NumPy deciles + scipy chi2_contingency + ks_2samp", theirs)]:
        print(f"| {name} | {min(r[0] for r in runs):.3f} | {min(r[1] for r in runs):.3f} | "
              f"{min(r[2] for r in runs):.3f} |")
    comparison = f"penguins drift check, {args.rows:,} vs {args.rows:,} rows, 8 columns"
    reference_name = "pandas + NumPy + scipy chi2_contingency, ks_2samp"
    record(args.summary, comparison, "statistics (best)", min(r[1] for r in ours), reference_name,
           min(r[1] for r in theirs), higher_is_better=False, unit="s")
    record(args.summary, comparison, "end to end incl. Parquet read (best)", min(r[2] for r in ours),
           reference_name, min(r[2] for r in theirs), higher_is_better=False, unit="s")


if __name__ == "__main__":
    main()
