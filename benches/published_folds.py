"""The published 120-row data, 5-fold: driftloop's champion against scikit-learn's best.

The folds are scikit-learn's StratifiedKFold(5, shuffle=True, random_state=0). Each fold
runs driftloop as a user would: `db migrate` on a new SQLite file, `import` the fold's
training rows, `train` (the whole grid; the champion is the first model), `predict` the
fold's test rows; as it ships (the chosen candidate refitted on all of the fold's
training rows to serve); once serving the compared model, fitted without the 20 %
holdout (DRIFTLOOP_REFIT_MAX_ROWS=0, as before the refit existed); once choosing the best
cross-validated candidate of any family (DRIFTLOOP_DEFAULT_FAMILY=none, as before the
default family existed); and with the forest family alone. scikit-learn fits RandomForest, HistGradientBoosting and
LogisticRegression on the very same training rows and scores the same test rows; its
"best" is the family with the highest mean accuracy over the folds (chosen with
hindsight, in its favour). Accuracy, macro-F1 and log-loss are pooled over the 120
out-of-fold predictions. Then the Palmer penguins (344 rows) in the same folds, the
champion as it ships and without the default family: what keeping the forests costs
where another family is better."""

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
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from summary import record
from train import CLASSES, ORIGINAL, encode

HERE = os.path.dirname(os.path.abspath(__file__))
PENGUIN_SPEC = os.path.join(HERE, "..", "data-fixtures", "penguins", "dataset.toml")
PENGUINS = os.path.join(HERE, "..", "..", "shared", "data", "penguins-344.csv")

REFERENCES = {
    "RandomForestClassifier(n_estimators=200)": lambda: RandomForestClassifier(n_estimators=200, random_state=0),
    "HistGradientBoostingClassifier()": lambda: HistGradientBoostingClassifier(random_state=0),
    "LogisticRegression() on standardized columns": lambda: make_pipeline(StandardScaler(),
                                                                          LogisticRegression(max_iter=1000)),
}


def folds(y):
    return list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y))


def driftloop_fold(binary, raw, train_rows, test_rows, tmp, k, extra_env, train_args, n_classes=len(CLASSES)):
    """driftloop's champion's class probabilities on the test rows, its training, and its
    predicted classes."""
    folder = tempfile.mkdtemp(prefix=f"fold-{k}-", dir=tmp)
    train_csv, test_csv, out_csv = (os.path.join(folder, n) for n in ("train.csv", "test.csv", "scored.csv"))
    raw.iloc[train_rows].to_csv(train_csv, index=False)
    raw.iloc[test_rows].to_csv(test_csv, index=False)
    env = dict(os.environ, DRIFTLOOP_DATABASE_URL=f"sqlite://{folder}/driftloop.db",
               DRIFTLOOP_STORE=os.path.join(folder, "store"), RUST_LOG="warn", **extra_env)
    for name in ("MLFLOW_TRACKING_URI", "WANDB_MODE", "WANDB_PROJECT", "DRIFTLOOP_SNS_TOPIC_ARN"):
        env.pop(name, None)

    def run(*args):
        return subprocess.run([binary, *args], check=True, capture_output=True, text=True, env=env).stdout

    run("db", "migrate")
    run("import", train_csv)
    trained = run("train", "--json", *train_args)
    run("predict", "--input", test_csv, "--output", out_csv)
    scored = pd.read_csv(out_csv)
    columns = [c for c in scored.columns if c.startswith("p_")]
    assert len(columns) == n_classes, columns
    # The file's probabilities are rounded: scale each row back to a sum of 1.
    probabilities = scored[columns].to_numpy()
    return probabilities / probabilities.sum(axis=1, keepdims=True), json.loads(trained), scored["prediction"].to_numpy()


def pooled(y, probabilities):
    predicted = probabilities.argmax(axis=1)
    return (accuracy_score(y, predicted), f1_score(y, predicted, average="macro"),
            log_loss(y, np.clip(probabilities, 1e-15, 1), labels=list(range(len(CLASSES)))))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--repeat", type=int, default=1, help="unused: the folds are the repetition")
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    args = parser.parse_args()
    raw = pd.read_csv(ORIGINAL, dtype=str, encoding="utf-8-sig")
    x, y = encode(raw.iloc[:, 1:])
    splits = folds(y)
    procedures = {"served model refitted on every row": ({}, []),
                  "compared model served (DRIFTLOOP_REFIT_MAX_ROWS=0)": ({"DRIFTLOOP_REFIT_MAX_ROWS": "0"}, []),
                  "best cross-validated candidate of any family (DRIFTLOOP_DEFAULT_FAMILY=none)":
                      ({"DRIFTLOOP_DEFAULT_FAMILY": "none"}, []),
                  "random forests only (train --family random-forest)": ({}, ["--family", "random-forest"])}
    ours, chosen = {}, {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (extra_env, train_args) in procedures.items():
            ours[name] = np.zeros((len(y), len(CLASSES)))
            chosen[name] = []
            for k, (train_rows, test_rows) in enumerate(splits):
                probabilities, answer, _ = driftloop_fold(args.driftloop, raw, train_rows, test_rows, tmp, k,
                                                          extra_env, train_args)
                ours[name][test_rows] = probabilities
                chosen[name].append(answer["family"])
    seconds = (time.perf_counter() - started) / len(procedures)
    theirs = {}
    for name, make in REFERENCES.items():
        p = np.zeros((len(y), len(CLASSES)))
        for train_rows, test_rows in splits:
            model = make().fit(x[train_rows], y[train_rows])
            p[test_rows] = model.predict_proba(x[test_rows])
        theirs[name] = p
    print("\nThe published data, 5-fold (StratifiedKFold(5, shuffle=True, random_state=0)): each fold "
          "imported, trained and predicted with driftloop; scikit-learn on the same rows\n")
    print("| model | accuracy | macro-F1 | log-loss | per fold accuracy |")
    print("|---|---:|---:|---:|---|")

    def line(name, p):
        acc, f1, loss = pooled(y, p)
        per_fold = " ".join(f"{accuracy_score(y[te], p[te].argmax(axis=1)):.3f}" for _, te in splits)
        print(f"| {name} | {acc:.3f} | {f1:.3f} | {loss:.3f} | {per_fold} |")
        return acc

    for name in procedures:
        acc = line(f"driftloop champion, {name} ({', '.join(chosen[name])})", ours[name])
        if procedures[name] == ({}, []):
            ours_acc = acc
    best_name, best_acc = None, -1.0
    for name, p in theirs.items():
        acc = line(f"scikit-learn {name}", p)
        if acc > best_acc:
            best_name, best_acc = name, acc
    print(f"\ndriftloop's five folds (migrate, import, train, predict) took {seconds:.1f} s")
    penguin_champions(args.driftloop)
    record(args.summary, "published data, 5-fold accuracy", f"driftloop champion vs scikit-learn's best ({best_name})",
           ours_acc, "scikit-learn best", best_acc, higher_is_better=True, unit="")


def penguin_champions(binary):
    """The default family's cost where another family is better: the Palmer penguins'
    344 rows in the same folds, the champion as it ships and the best cross-validated
    candidate of any family."""
    raw = pd.read_csv(PENGUINS)
    y = raw["species"].to_numpy()
    print("\nThe Palmer penguins, 5-fold (the same StratifiedKFold), driftloop's champion only\n")
    print("| champion | right | accuracy | chosen, fold by fold |")
    print("|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, family in (("as it ships (the default family)", None),
                             ("best cross-validated candidate of any family (DRIFTLOOP_DEFAULT_FAMILY=none)", "none")):
            extra_env = {"DRIFTLOOP_DATASET": PENGUIN_SPEC, **({"DRIFTLOOP_DEFAULT_FAMILY": family} if family else {})}
            right, chosen = 0, []
            for k, (train_rows, test_rows) in enumerate(folds(y)):
                _, answer, predicted = driftloop_fold(binary, raw, train_rows, test_rows, tmp, k, extra_env, [],
                                                      n_classes=3)
                right += int((predicted == y[test_rows]).sum())
                chosen.append(answer["family"])
            print(f"| {name} | {right} of {len(y)} | {right / len(y):.3f} | {', '.join(chosen)} |")


if __name__ == "__main__":
    sys.exit(main())
