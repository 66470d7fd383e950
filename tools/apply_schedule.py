#!/usr/bin/env python3
"""Apply a guided-dropout schedule (written by `guided schedule`) to a Hugging Face `transformers` model.

    from transformers import AutoModelForSequenceClassification
    from apply_schedule import apply_schedule
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
    apply_schedule(model, "schedule.json")

Each site in the file is keyed by its module path (`bert.encoder.layer.0.attention.self.dropout`,
`transformer.h.0.attn.attn_dropout`); the snippet sets `model.get_submodule(path).p = p`. A path is
also tried with its base prefix (`bert.` for BERT, `transformer.` for GPT-2) removed or added, so a
schedule made from a BertForMaskedLM or GPT2LMHeadModel applies to the bare BertModel or GPT2Model
and back. The classifier's dropout is not in the schedule and is left as configured.

Command line (prints each site's p): python tools/apply_schedule.py schedule.json MODEL_DIR_OR_NAME
"""
import json
import sys


def apply_schedule(model, path):
    with open(path) as f:
        schedule = json.load(f)
    if schedule.get("format") != "guided-dropout-schedule/1":
        raise ValueError(f"{path}: not a guided-dropout-schedule/1 file")
    names = {name for name, _ in model.named_modules()}
    applied = {}
    for site, entry in schedule["sites"].items():
        candidates = [site]
        for prefix in ("bert.", "transformer."):
            candidates.append(site[len(prefix):] if site.startswith(prefix) else prefix + site)
        name = next((c for c in candidates if c in names), site)
        module = model.get_submodule(name)  # raises if the model has none of the paths
        p = float(entry["p"])
        if not 0 <= p < 1:
            raise ValueError(f"{path}: site {site} has p {p}, outside [0, 1)")
        module.p = p
        applied[name] = p
    return applied


if __name__ == "__main__":
    from transformers import AutoModel

    model = AutoModel.from_pretrained(sys.argv[2])
    for name, p in apply_schedule(model, sys.argv[1]).items():
        print(f"{name}\t{p}")
