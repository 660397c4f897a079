"""Training, per model family: driftloop (`driftloop train --input FILE --dry-run`)
beside scikit-learn's same family with the same procedure, in the same run: the same
stratified 20 % holdout rows (driftloop's split, which it reports), a 5-fold stratified
cross-validation on macro-F1 over the same hyper-parameter grid (on a stratified sample of
at most 20,000 training rows, as driftloop does), the best refitted on all training rows,
then scored on the holdout. Both use every core (driftloop's threads; GridSearchCV
n_jobs=-1). When the CV rows' classes are imbalanced (largest >= 1.5 x smallest), both then
cross-validate each family's best with balanced class weights on the same folds and keep
it only if its macro-F1 is higher. Datasets: the original 120-row file, a large synthetic
one, and an imbalanced one (the label-shift fixture: one class 60 % of the rows). Also: the peak RSS of a whole train job (read, snapshot, train,
register) beside the in-memory size of its rows."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split
from sklearn.naive_bayes import CategoricalNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from summary import record

FREQUENCY = ["Seldom", "Sometimes", "Usually", "Most-Often"]
CLASSES = ["Normal", "Bipolar Type-1", "Bipolar Type-2", "Depression"]
N_FREQUENCY, N_YES_NO, N_SCORES = 4, 10, 3
# Categories per column for CategoricalNB: every level of every column (scores 1-10 are
# categories 0-10), so a model fitted without some level can still score a row that has it.
CATEGORIES = [4] * N_FREQUENCY + [2] * N_YES_NO + [11] * N_SCORES
HERE = os.path.dirname(os.path.abspath(__file__))
ORIGINAL = os.path.join(HERE, "..", "..", "shared", "data", "mental-disorders-120.csv")

# The grid of driftloop's `default_grid()`, in scikit-learn's terms. driftloop's logistic
# regression minimises log-loss + alpha/2 |w|^2 (smartcore's objective); scikit-learn's
# C log-loss + 1/2 |w|^2. Both stop at a mean-gradient tolerance of 1e-4. Both forests
# draw bootstrap samples and try sqrt(17) = 4 columns per split.
GRIDS = {
    "logistic_regression": (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": [1 / 0.01, 1 / 0.1, 1 / 1.0]},
    ),
    "random_forest": (
        RandomForestClassifier(n_estimators=100, max_features="sqrt", random_state=42),
        [{"max_depth": [None], "min_samples_leaf": [1, 3]}, {"max_depth": [8], "min_samples_leaf": [1]}],
    ),
    "decision_tree": (
        DecisionTreeClassifier(random_state=42),
        [{"max_depth": [4, 8], "min_samples_leaf": [1]}, {"max_depth": [None], "min_samples_leaf": [3]}],
    ),
    "naive_bayes": (
        CategoricalNB(min_categories=CATEGORIES),
        {"alpha": [0.1, 0.5, 1.0]},
    ),
    # Both: learning rate 0.1, at most 100 rounds, no L2, early stopping on a tenth of the
    # rows from 10,000 rows on (scikit-learn's "auto"), at most 255/256 bins per column.
    "gradient_boosting": (
        HistGradientBoostingClassifier(learning_rate=0.1, max_iter=100, l2_regularization=0.0, random_state=42),
        [{"max_leaf_nodes": [31], "min_samples_leaf": [20]}, {"max_leaf_nodes": [15], "min_samples_leaf": [5]}],
    ),
}


def encode(frame):
    """Feature codes as the spec encodes them (ordinal, 0/1, the score) and class indices."""
    features = frame.iloc[:, :17].apply(lambda c: c.str.strip())
    x = np.empty((len(frame), 17))
    for i in range(17):
        col = features.iloc[:, i]
        if i < N_FREQUENCY:
            x[:, i] = col.map({v: k for k, v in enumerate(FREQUENCY)})
        elif i < N_FREQUENCY + N_YES_NO:
            x[:, i] = col.map({"NO": 0, "YES": 1})
        else:
            x[:, i] = col.str.split(" ").str[0].astype(int)
    y = frame.iloc[:, 17].str.strip().map({c: k for k, c in enumerate(CLASSES)}).to_numpy()
    assert not np.isnan(x).any() and not pd.isna(y).any()
    return x, y.astype(int)


# The families that take a class weight, and the name of the parameter in GRIDS' estimators.
CLASS_WEIGHT = {
    "logistic_regression": "logisticregression__class_weight",
    "random_forest": "class_weight",
    "decision_tree": "class_weight",
    "gradient_boosting": "class_weight",
}


def imbalanced(y):
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return counts.max() >= 1.5 * counts.min()


def sklearn_train(x, y, family, holdout_rows, calibration=None, cv_max_rows=20_000):
    """scikit-learn on driftloop's own stratified holdout split (the rows it held out), so
    both are scored on the very same rows; on imbalanced classes the best's balanced twin
    is cross-validated on the same folds and kept if it scores higher; calibrated with
    CalibratedClassifierCV (5-fold, ensemble=False) by the method driftloop chose, if it
    chose one."""
    estimator, grid = GRIDS[family]
    held = np.zeros(len(y), dtype=bool)
    held[holdout_rows] = True
    x_train, x_hold, y_train, y_hold = x[~held], x[held], y[~held], y[held]
    started = time.perf_counter()
    x_cv, y_cv = x_train, y_train
    if len(y_train) > cv_max_rows:
        x_cv, _, y_cv, _ = train_test_split(x_train, y_train, train_size=cv_max_rows, stratify=y_train,
                                            random_state=42)
    search = GridSearchCV(estimator, grid, scoring="f1_macro", n_jobs=-1, refit=False,
                          cv=StratifiedKFold(5, shuffle=True, random_state=42))
    search.fit(x_cv, y_cv)
    params, weighted = dict(search.best_params_), None
    if family in CLASS_WEIGHT and imbalanced(y_cv):
        twin = {**params, CLASS_WEIGHT[family]: "balanced"}
        score = cross_val_score(estimator.set_params(**twin), x_cv, y_cv, scoring="f1_macro", n_jobs=-1,
                                cv=StratifiedKFold(5, shuffle=True, random_state=42)).mean()
        if score > search.best_score_:
            params, weighted = twin, "balanced"
    best = estimator.set_params(**params).fit(x_train, y_train)
    seconds = time.perf_counter() - started
    if calibration:
        best = CalibratedClassifierCV(estimator.set_params(**params), method=calibration,
                                      cv=StratifiedKFold(5, shuffle=True, random_state=42),
                                      ensemble=False).fit(x_train, y_train)
    probabilities = best.predict_proba(x_hold)
    predicted = probabilities.argmax(axis=1)
    # The estimator is reused: the next call starts unweighted.
    if family in CLASS_WEIGHT:
        estimator.set_params(**{CLASS_WEIGHT[family]: None})
    return (seconds, accuracy_score(y_hold, predicted), f1_score(y_hold, predicted, average="macro"),
            search.best_score_, log_loss(y_hold, probabilities, labels=list(range(len(CLASSES)))), weighted)


def driftloop_train(binary, path, family):
    out = subprocess.run([binary, "train", "--input", path, "--dry-run", "--family", family.replace("_", "-"),
                          "--json"], check=True, capture_output=True, text=True).stdout
    answer = json.loads(out)
    cv = next(c["mean_macro_f1"] for c in answer["cv"] if c["candidate"] == answer["chosen"])
    return (answer["train_seconds"], answer["holdout"]["accuracy"], answer["holdout"]["macro_f1"], cv, answer,
            answer["holdout_probabilities"]["log_loss"])


def peak_rss_of_train_job(binary, csv, tmp):
    env = dict(os.environ, DRIFTLOOP_DATABASE_URL=f"sqlite://{tmp}/rss.db", DRIFTLOOP_STORE=f"{tmp}/rss-store",
               RUST_LOG="warn")
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run([binary, "db", "migrate"], check=True, capture_output=True, env=env)
    subprocess.run([binary, "import", csv], check=True, capture_output=True, env=env)
    # A fresh Python process runs the job, so its children's peak RSS is the job's alone.
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe, binary, "train", "--json"], check=True, capture_output=True,
                         text=True, env=env).stdout
    seconds = time.perf_counter() - started
    return int(out.strip()) * 1024, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the synthetic dataset")
    parser.add_argument("--boosting-rows", type=int, default=200_000,
                        help="rows of a larger synthetic dataset for gradient boosting alone (0: none)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = os.path.join(tmp, f"baseline-{args.rows}.csv")
        subprocess.run([args.driftloop, "fixtures", "generate", "--rows", str(args.rows), "--seed", "7",
                        "--out", synthetic], check=True, capture_output=True)
        original = pd.read_csv(ORIGINAL, dtype=str, encoding="utf-8-sig").iloc[:, 1:]
        datasets = [("original 120 rows", ORIGINAL, original, list(GRIDS)),
                    (f"synthetic {args.rows:,} rows", synthetic, pd.read_csv(synthetic, dtype=str), list(GRIDS))]
        shifted = os.path.join(tmp, f"label-shift-{args.rows}.csv")
        subprocess.run([args.driftloop, "fixtures", "generate", "--rows", str(args.rows), "--seed", "9",
                        "--scenario", "label-shift", "--out", shifted], check=True, capture_output=True)
        datasets.append((f"imbalanced {args.rows:,} rows", shifted, pd.read_csv(shifted, dtype=str),
                         list(CLASS_WEIGHT)))
        if args.boosting_rows:
            large = os.path.join(tmp, f"baseline-{args.boosting_rows}.csv")
            subprocess.run([args.driftloop, "fixtures", "generate", "--rows", str(args.boosting_rows), "--seed", "8",
                            "--out", large], check=True, capture_output=True)
            datasets.append((f"synthetic {args.boosting_rows:,} rows", large, pd.read_csv(large, dtype=str),
                             ["gradient_boosting"]))
        print(f"\nTraining per family: driftloop vs scikit-learn, same procedure "
              f"(best of {args.repeat}; time = CV grid search + refit)\n")
        print("| dataset | family | driftloop s | sklearn s | speed-up | driftloop holdout acc / macro-F1 "
              "| sklearn holdout acc / macro-F1 | CV macro-F1 driftloop / sklearn | calibration "
              "| holdout log-loss driftloop / sklearn | class weight driftloop / sklearn |")
        print("|---|---|---:|---:|---:|---|---|---|---|---|---|")
        for label, path, frame, families in datasets:
            x, y = encode(frame)
            for family in families:
                ours = [driftloop_train(args.driftloop, path, family) for _ in range(args.repeat)]
                assert ours[0][4]["rows"] == len(y), "driftloop read every row of the file"
                if path == synthetic:
                    frame_bytes = ours[0][4]["frame_bytes"]
                chosen = (ours[0][4].get("calibration") or {}).get("method")
                theirs = [sklearn_train(x, y, family, ours[0][4]["holdout_rows"], chosen) for _ in range(args.repeat)]
                t_ours, t_theirs = min(r[0] for r in ours), min(r[0] for r in theirs)
                print(f"| {label} | {family} | {t_ours:.3f} | {t_theirs:.3f} | {t_theirs / t_ours:.1f}x | "
                      f"{ours[0][1]:.3f} / {ours[0][2]:.3f} | {theirs[0][1]:.3f} / {theirs[0][2]:.3f} | "
                      f"{ours[0][3]:.3f} / {theirs[0][3]:.3f} | {chosen or 'none'} | "
                      f"{ours[0][5]:.3f} / {theirs[0][4]:.3f} | "
                      f"{ours[0][4]['chosen'].get('class_weight') or 'none'} / {theirs[0][5] or 'none'} |")
                record(args.summary, f"training {family}, {label}",
                       f"CV grid + refit s (best); holdout macro-F1 {ours[0][2]:.3f} vs {theirs[0][2]:.3f}", t_ours,
                       "scikit-learn GridSearchCV", t_theirs, higher_is_better=False, unit="s")
        rss, seconds = peak_rss_of_train_job(args.driftloop, synthetic, tmp)
        print(f"\nWhole train job on {args.rows:,} rows (SQLite read, Parquet snapshot, every family's grid, "
              f"register): {seconds:.1f} s, peak RSS {rss / 2**20:.0f} MiB; the rows in memory (Polars frame): "
              f"{frame_bytes / 2**20:.1f} MiB ({rss / frame_bytes:.0f}x)")
    record(args.summary, f"whole train job, {args.rows:,} rows", "peak RSS MiB", rss / 2**20,
           "(no reference)", None, higher_is_better=False)


if __name__ == "__main__":
    main()
