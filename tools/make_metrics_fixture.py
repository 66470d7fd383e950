#!/usr/bin/env python3
"""Writes Tests/GuidedTrainingTests/Fixtures/metrics.json: GLUE metric values computed as the `glue`
metric of Hugging Face `evaluate` computes them (scikit-learn's accuracy, f1_score and
matthews_corrcoef; SciPy's pearsonr and spearmanr), for fixed prediction/reference vectors.

The Swift tests (GlueMetricsTests) recompute every value and compare within 1e-9, so they never need
Python. Needs numpy, scipy and scikit-learn. Run from the repository root:

    python tools/make_metrics_fixture.py

`evaluate` itself is not needed: its glue metric is, for each task,
  cola: {"matthews_correlation": matthews_corrcoef(references, predictions)}
  stsb: {"pearson": pearsonr(predictions, references)[0], "spearmanr": spearmanr(predictions, references)[0]}
  mrpc, qqp: {"accuracy": (predictions == references).mean(), "f1": f1_score(references, predictions)}
  sst2, mnli (matched and mismatched), qnli, rte, wnli: {"accuracy": ...}
and the combined score is the mean of a task's values (transformers' run_glue.py).
A NaN (a correlation of constant input) is written as null.
"""

import json
import math
import os
import warnings

import numpy as np
import scipy
import sklearn
from scipy.stats import pearsonr, rankdata, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

OUT = os.path.join("Tests", "GuidedTrainingTests", "Fixtures", "metrics.json")


def number(value):
    value = float(value)
    return None if math.isnan(value) else value


def classification(predictions, references):
    p = np.asarray(predictions)
    r = np.asarray(references)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = {
            "accuracy": number((p == r).mean()),
            "matthews_correlation": number(matthews_corrcoef(r, p)),
        }
        if set(p.tolist()) | set(r.tolist()) <= {0, 1}:
            result["f1"] = number(f1_score(r, p))
    return result


def regression(predictions, references):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "pearson": number(pearsonr(predictions, references)[0]),
            "spearmanr": number(spearmanr(predictions, references)[0]),
        }


def glue(task, predictions, references):
    p = np.asarray(predictions)
    r = np.asarray(references)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "cola":
            values = {"matthews_correlation": float(matthews_corrcoef(r, p))}
        elif task == "stsb":
            values = {"pearson": float(pearsonr(p, r)[0]), "spearmanr": float(spearmanr(p, r)[0])}
        elif task in ("mrpc", "qqp"):
            values = {"accuracy": float((p == r).mean()), "f1": float(f1_score(r, p))}
        else:
            values = {"accuracy": float((p == r).mean())}
    return values, float(np.mean(list(values.values())))


def main():
    rng = np.random.default_rng(20240611)
    cases = []

    def add_classification(name, predictions, references):
        predictions = [int(v) for v in predictions]
        references = [int(v) for v in references]
        cases.append({
            "name": name, "kind": "classification",
            "predictions": predictions, "references": references,
            "expected": classification(predictions, references),
        })

    def add_regression(name, predictions, references):
        predictions = [float(v) for v in predictions]
        references = [float(v) for v in references]
        cases.append({
            "name": name, "kind": "regression",
            "predictions": predictions, "references": references,
            "expected": regression(predictions, references),
            "prediction_ranks": [float(v) for v in rankdata(predictions)],
            "reference_ranks": [float(v) for v in rankdata(references)],
        })

    add_classification("binary_small", [1, 0, 1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0, 1, 1])
    add_classification("all_same_prediction", [1] * 10, [1, 0, 1, 1, 0, 1, 0, 1, 1, 0])
    add_classification("all_same_reference", [1, 0, 1, 0, 0, 1], [0] * 6)
    add_classification("all_zero_both", [0] * 7, [0] * 7)
    add_classification("perfect", [0, 1, 1, 0, 1, 0, 0, 1, 1], [0, 1, 1, 0, 1, 0, 0, 1, 1])
    add_classification("inverted", [1, 0, 0, 1, 0, 1], [0, 1, 1, 0, 1, 0])
    references = rng.integers(0, 2, 300)
    predictions = np.where(rng.random(300) < 0.75, references, 1 - references)
    add_classification("random_binary_300", predictions, references)
    references = rng.integers(0, 2, 257)
    predictions = rng.integers(0, 2, 257)
    add_classification("random_binary_uncorrelated_257", predictions, references)
    references = rng.integers(0, 3, 500)
    predictions = np.where(rng.random(500) < 0.6, references, rng.integers(0, 3, 500))
    add_classification("random_3class_500", predictions, references)
    add_classification("three_class_missing_prediction_class", [0, 0, 1, 1, 0, 1], [0, 2, 1, 2, 0, 1])

    add_regression("stsb_small", [2.5, 0.0, 4.2, 3.3, 1.0, 5.0], [3.0, 0.4, 4.0, 2.8, 1.2, 4.6])
    add_regression("ties_both", [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 0.5], [0.2, 2.2, 2.2, 2.2, 3.4, 3.0, 5.0, 0.2])
    add_regression("monotonic_nonlinear", [1, 2, 3, 4, 5, 6, 7], [1, 4, 9, 16, 25, 36, 49])
    add_regression("inverted", [0.5, 1.5, 2.5, 3.5], [4.0, 3.0, 2.0, 1.0])
    add_regression("constant_prediction", [2.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0])
    references = np.round(rng.uniform(0, 5, 400) * 5) / 5  # 0.2 steps: many ties
    predictions = np.clip(references + rng.normal(0, 0.8, 400), 0, 5)
    predictions = np.round(predictions * 10) / 10  # 0.1 steps: ties in predictions too
    add_regression("stsb_like_400_ties", predictions, references)
    references = rng.uniform(0, 5, 333)
    predictions = references * 0.7 + rng.normal(0, 1.0, 333) + 0.4
    add_regression("stsb_like_333_continuous", predictions, references)

    tasks = []
    binary = next(c for c in cases if c["name"] == "random_binary_300")
    three = next(c for c in cases if c["name"] == "random_3class_500")
    small = next(c for c in cases if c["name"] == "binary_small")
    stsb = next(c for c in cases if c["name"] == "stsb_like_400_ties")
    inputs = {
        "cola": binary, "sst2": small, "mrpc": binary, "qqp": small, "stsb": stsb,
        "mnli": three, "qnli": binary, "rte": small, "wnli": small,
    }
    for task, case in inputs.items():
        values, combined = glue(task, case["predictions"], case["references"])
        tasks.append({
            "task": task, "case": case["name"], "values": values, "combined": combined,
        })

    fixture = {
        "generator": "tools/make_metrics_fixture.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
        "cases": cases,
        "tasks": tasks,
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} cases, {len(tasks)} tasks")


if __name__ == "__main__":
    main()
