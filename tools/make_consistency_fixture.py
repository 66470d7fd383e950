#!/usr/bin/env python3
"""Golden fixture for the Fisher consistency table (paper Table 1) and the Fisher report.

Writes into Tests/GuidedMethodTests/Fixtures/:
  consistency_reference.safetensors  a small random "Fisher" (a few tensors of different shapes,
                                     heavy-tailed values, ties, an all-zero tensor, a 3-element one)
  consistency_sub_a.safetensors      reference * log-normal noise
  consistency_sub_b.safetensors      a noisier estimate with zeros where the reference is large
  consistency_expected.json          the table computed here with numpy / scipy, plus report numbers

Conventions (the Swift side implements the same; see Sources/GuidedMethod/Analysis/Consistency.swift):
  * top-k% of a tensor of n elements = ceil(k*n/100 - 1e-7) elements, at least 1, at most n, chosen as
    np.argsort(-x, kind="stable")[:m] on the reference (ties: lower index first);
  * correlation = scipy.stats.pearsonr on those elements (float64); skipped when m < 2 or a side is
    constant;
  * KL = scipy.stats.entropy(p + 1e-12*max(p), q + 1e-12*max(q)) (natural log; entropy normalises);
    skipped when either side is all zero;
  * mean and np.std (population, ddof=0) over the tensors not skipped.

Run with a Python that has numpy and scipy:  python tools/make_consistency_fixture.py
"""
import json
import math
import os
import struct

import numpy as np
import scipy.stats

PERCENTS = [25.0, 5.0, 1.0, 0.5, 0.25]
REPORT_PERCENTS = [0.25, 1.0, 5.0]
THRESHOLD = 0.01
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "GuidedMethodTests", "Fixtures")


def save_safetensors(tensors, path, metadata):
    """A safetensors file with F32 tensors in the given order and a deterministic header (the
    safetensors package orders metadata keys differently from run to run)."""
    header = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for name, value in tensors.items():
        size = value.size * 4
        header[name] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for value in tensors.values():
            f.write(np.ascontiguousarray(value, dtype="<f4").tobytes())


def top_count(percent, n):
    if n == 0:
        return 0
    return min(n, max(1, math.ceil(percent * n / 100 - 1e-7)))


def make_tensors(rng):
    t = {}
    words = (rng.lognormal(mean=-12, sigma=2.5, size=(200, 16)) ** 1.5).astype(np.float32)
    words[0, :] = 0  # the pad row never gets a gradient
    t["bert.embeddings.word_embeddings.weight"] = words
    t["bert.encoder.layer.0.attention.self.query.weight"] = (rng.pareto(1.5, size=(32, 32)) * 1e-6).astype(np.float32)
    t["bert.encoder.layer.0.attention.self.query.bias"] = (rng.standard_cauchy(size=32) ** 2 * 1e-7).astype(np.float32)
    t["tie.weight"] = rng.integers(0, 10, size=(20, 30)).astype(np.float32) * np.float32(1e-5)
    t["ln.weight"] = np.array([3e-6, 1e-6, 2e-6], dtype=np.float32)
    t["zero.bias"] = np.zeros(8, dtype=np.float32)
    return t


def noisy(rng, reference, sigma):
    return {k: (v * rng.lognormal(0, sigma, size=v.shape)).astype(np.float32) for k, v in reference.items()}


def consistency(reference, sub):
    cells = []
    for percent in PERCENTS:
        corrs, kls = [], []
        for name, ref in reference.items():
            x = ref.reshape(-1)
            y = sub[name].reshape(-1)
            m = top_count(percent, x.size)
            idx = np.argsort(-x, kind="stable")[:m]
            p = x[idx].astype(np.float64)
            q = y[idx].astype(np.float64)
            if m >= 2 and not (p == p[0]).all() and not (q == q[0]).all():
                corrs.append(float(scipy.stats.pearsonr(p, q).statistic))
            if p.max() > 0 and q.max() > 0:
                kls.append(float(scipy.stats.entropy(p + 1e-12 * p.max(), q + 1e-12 * q.max())))

        def summary(v):
            return {"mean": float(np.mean(v)) if v else None, "std": float(np.std(v)) if v else None, "tensors": len(v)}

        cells.append({"percent": percent, "correlation": summary(corrs), "kl": summary(kls),
                      "correlationSkipped": len(reference) - len(corrs), "klSkipped": len(reference) - len(kls)})
    return cells


def report(reference):
    everything = np.concatenate([v.reshape(-1) for v in reference.values()]).astype(np.float64)
    global_max = everything.max()

    def top_mass(x):
        s = np.sort(x)[::-1]
        total = s.sum()
        return [{"percent": k, "elements": top_count(k, x.size),
                 "share": float(s[:top_count(k, x.size)].sum() / total) if total > 0 else 0.0} for k in REPORT_PERCENTS]

    tensors = []
    for name, v in reference.items():
        x = v.reshape(-1).astype(np.float64)
        above = int(((x / global_max) >= THRESHOLD).sum())
        tensors.append({"name": name, "count": int(x.size), "sum": float(x.sum()), "mean": float(x.mean()),
                        "max": float(x.max()), "countAboveThreshold": above, "topMass": top_mass(x)})
    return {"globalMax": float(global_max), "totalMass": float(everything.sum()),
            "zeroCount": int((everything == 0).sum()),
            "countAboveThreshold": int(((everything / global_max) >= THRESHOLD).sum()),
            "topMass": top_mass(everything), "tensors": tensors}


def main():
    rng = np.random.default_rng(20240611)
    reference = make_tensors(rng)
    sub_a = noisy(rng, reference, 0.3)
    sub_b = noisy(rng, reference, 1.0)
    # Zeros where the reference is large (a token the subsample never saw): exercises the KL epsilon.
    words = sub_b["bert.embeddings.word_embeddings.weight"]
    flat_ref = reference["bert.embeddings.word_embeddings.weight"].reshape(-1)
    words.reshape(-1)[np.argsort(-flat_ref, kind="stable")[[1, 5, 9]]] = 0
    files = {
        "consistency_reference.safetensors": (reference, {"samples": "1000", "fraction": "1.0"}),
        "consistency_sub_a.safetensors": (sub_a, {"samples": "100", "fraction": "0.1"}),
        "consistency_sub_b.safetensors": (sub_b, {"samples": "10", "fraction": "0.01"}),
    }
    os.makedirs(OUT, exist_ok=True)
    for name, (tensors, metadata) in files.items():
        path = os.path.join(OUT, name)
        save_safetensors(tensors, path, metadata)
    expected = {
        "percents": PERCENTS,
        "rows": [{"file": "consistency_sub_a.safetensors", "cells": consistency(reference, sub_a)},
                 {"file": "consistency_sub_b.safetensors", "cells": consistency(reference, sub_b)}],
        "report": {"threshold": THRESHOLD, "percents": REPORT_PERCENTS, **report(reference)},
    }
    with open(os.path.join(OUT, "consistency_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote", ", ".join(list(files) + ["consistency_expected.json"]), "to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
