"""The reference of driftloop's realized-performance metrics, in scikit-learn, NumPy and
SciPy, on committed windows (window-*.json: truth, and the model's probabilities per row;
the prediction is the most probable class, the first on a tie):

- accuracy_score, f1_score(average="macro"), precision/recall/F1 per class
  (zero_division=0), confusion_matrix;
- brier_score_loss(truth == k, p_k) per class (one-vs-rest), and the multi-class Brier
  score (mean over rows of the summed squared error against the one-hot truth);
- the expected calibration error over 10 equal-width bins of the predicted class's
  probability (the last bin holds 1.0), in NumPy;
- the one-sided two-proportion z-test of the window's accuracy against a holdout
  accuracy (pooled variance; scipy.stats.norm.sf).

    python sklearn_reference.py            writes the windows and expected.json
    python sklearn_reference.py --check    fails if a fresh run differs from them (beyond
                                           1e-12, the last bits NumPy's per-CPU exp may change)

The Rust tests compare driftloop's numbers with expected.json to 1e-12."""

import json
import math
import os
import sys

import numpy as np
from scipy.stats import norm
from sklearn.metrics import (accuracy_score, brier_score_loss, confusion_matrix, f1_score,
                             precision_recall_fscore_support)

HERE = os.path.dirname(os.path.abspath(__file__))
N_CLASSES = 4
BINS = 10
# name: (rows, seed, how sure the model is, how often it is right, holdout accuracy and rows)
WINDOWS = {
    "calibrated": (200, 11, 3.0, None, (0.85, 120)),
    "over-confident": (200, 12, 8.0, 0.55, (0.85, 120)),
    "small": (25, 13, 2.0, None, (0.80, 24)),
}


def window(rows, seed, sharpness, right):
    """Probabilities from a softmax of random scores; the truth drawn from them (so the
    model is calibrated), or right with probability `right` whatever they say."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(rows, N_CLASSES)) * sharpness
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    predicted = p.argmax(axis=1)
    if right is None:
        truth = np.array([rng.choice(N_CLASSES, p=row) for row in p])
    else:
        wrong = (predicted + rng.integers(1, N_CLASSES, size=rows)) % N_CLASSES
        truth = np.where(rng.random(rows) < right, predicted, wrong)
    return truth.tolist(), p.tolist()


def metrics(truth, probabilities, holdout):
    truth = np.array(truth)
    p = np.array(probabilities)
    predicted = p.argmax(axis=1)
    labels = list(range(N_CLASSES))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels,
                                                                     zero_division=0)
    onehot = np.eye(N_CLASSES)[truth]
    confidence = p.max(axis=1)
    bin_of = np.minimum((confidence * BINS).astype(int), BINS - 1)
    ece = 0.0
    for b in range(BINS):
        inside = bin_of == b
        if inside.any():
            ece += inside.mean() * abs((predicted[inside] == truth[inside]).mean() - confidence[inside].mean())
    holdout_accuracy, holdout_rows = holdout
    accuracy = accuracy_score(truth, predicted)
    n_w = len(truth)
    pooled = (holdout_accuracy * holdout_rows + accuracy * n_w) / (holdout_rows + n_w)
    z = (holdout_accuracy - accuracy) / math.sqrt(pooled * (1 - pooled) * (1 / holdout_rows + 1 / n_w))
    return {
        "accuracy": accuracy,
        "macro_f1": f1_score(truth, predicted, average="macro"),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
        "confusion": confusion_matrix(truth, predicted, labels=labels).tolist(),
        "brier": float(((p - onehot) ** 2).sum(axis=1).mean()),
        "brier_per_class": [brier_score_loss(truth == k, p[:, k]) for k in labels],
        "ece": float(ece),
        "holdout_accuracy": holdout_accuracy,
        "holdout_rows": holdout_rows,
        "z": z,
        "p_value": float(norm.sf(z)),
    }


def build():
    files = {}
    expected = {}
    for name, (rows, seed, sharpness, right, holdout) in WINDOWS.items():
        truth, probabilities = window(rows, seed, sharpness, right)
        files[f"window-{name}.json"] = json.dumps({"truth": truth, "probabilities": probabilities}) + "\n"
        expected[name] = metrics(truth, probabilities, holdout)
    files["expected.json"] = json.dumps(expected, indent=1, sort_keys=True) + "\n"
    return files


# NumPy's exp is vectorized per CPU (AVX2, AVX-512), so a fresh window's probabilities may
# differ from the committed ones in the last bit on another machine; the check allows that,
# and recomputes the metrics from the committed windows, which are what the Rust tests read.
TOLERANCE = 1e-12


def close(fresh, committed, where):
    """Whether two JSON values are equal, numbers to TOLERANCE (relative, or absolute near 0)."""
    if isinstance(fresh, list) and isinstance(committed, list) and len(fresh) == len(committed):
        return all(close(a, b, f"{where}[{i}]") for i, (a, b) in enumerate(zip(fresh, committed)))
    if isinstance(fresh, dict) and isinstance(committed, dict) and fresh.keys() == committed.keys():
        return all(close(fresh[k], committed[k], f"{where}.{k}") for k in fresh)
    if isinstance(fresh, (int, float)) and isinstance(committed, (int, float)) and not isinstance(fresh, bool):
        if isinstance(fresh, int) and isinstance(committed, int):
            ok = fresh == committed
        else:
            ok = abs(fresh - committed) <= TOLERANCE * max(1.0, abs(committed))
    else:
        ok = fresh == committed
    if not ok:
        print(f"{where}: {fresh!r} (fresh) against {committed!r} (committed)", file=sys.stderr)
    return ok


def check():
    expected = {}
    for name, (rows, seed, sharpness, right, holdout) in WINDOWS.items():
        truth, probabilities = window(rows, seed, sharpness, right)
        with open(os.path.join(HERE, f"window-{name}.json")) as f:
            committed = json.load(f)
        if not close({"truth": truth, "probabilities": probabilities}, committed, f"window-{name}.json"):
            sys.exit(f"window-{name}.json differs from a fresh run of sklearn_reference.py")
        expected[name] = metrics(committed["truth"], committed["probabilities"], holdout)
    with open(os.path.join(HERE, "expected.json")) as f:
        if not close(json.loads(json.dumps(expected)), json.load(f), "expected.json"):
            sys.exit("expected.json differs from scikit-learn's metrics of the committed windows")
    print(f"performance metrics: {len(WINDOWS)} windows still equal scikit-learn's (to {TOLERANCE:g})",
          file=sys.stderr)


def main():
    if "--check" in sys.argv:
        check()
        return
    files = build()
    for name, text in files.items():
        with open(os.path.join(HERE, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
