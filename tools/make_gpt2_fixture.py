#!/usr/bin/env python3
"""Golden values from Hugging Face `transformers` for the GPT-2 golden tests.

Developers run this; CI never does (the fixtures it writes are committed, so tests need no PyTorch).

    python3 -m venv ~/tools-venv && ~/tools-venv/bin/pip install "torch==2.13.0+cpu" transformers safetensors
    ~/tools-venv/bin/python tools/make_gpt2_fixture.py

It builds a tiny randomly initialised GPT-2 (2 layers, n_embd 32, 4 heads, n_positions 64, n_inner
null → 128) whose vocabulary is the fixture tokenizer's (Tests/GuidedModelTests/Fixtures/gpt2-tokenizer,
1000 tokens, `<|endoftext|>` = 0), so `GPT2Tokenizer` works with the checkpoints. Dropout
probabilities are nonzero in the config; the goldens are computed in eval mode. It writes, in
Tests/GuidedModelTests/Fixtures/:

- `tiny-gpt2`: GPT2LMHeadModel with *bare* names (as the hub's `gpt2` stores them), including the
  old `h.i.attn.bias` / `h.i.attn.masked_bias` buffers that a loader must report as unused;
- `tiny-gpt2-cls`: GPT2ForSequenceClassification, 3 labels, pad_token_id = eos, `transformer.` names;
- `tiny-gpt2-reg`: the same with num_labels 1 (regression);
  each with vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json. Weights are
  stored as float16 (rounded before anything is computed, so the goldens are of exactly these
  values) to keep each checkpoint under 200 KB;
- `tiny-gpt2-golden.safetensors`, computed in float64 and stored as float32: a right-padded batch of
  3 texts tokenized by transformers' GPT2Tokenizer (input_ids, attention_mask, labels = input_ids
  with -100 at padding), the LM logits at the predicted positions (position t scored against
  labels[t+1]), the batch-mean LM loss, every parameter's gradient (wte's including the tied head),
  classification and regression logits, losses and gradients (wte's as the rows the batch looks up,
  `*_grad_wte_rows`, every other row being zero), and the per-sample empirical Fisher
  (mean over samples of each sample's squared gradient, a sample's loss being the mean next-token
  cross-entropy over its own non-padding positions).

With `--check-guided DIR` it instead loads a checkpoint written by `guided` and checks that
`transformers` loads it with no missing or unexpected keys and gives the logits stored in
DIR/guided-logits.safetensors (if present: input_ids, attention_mask, logits, ids stored as F32; for a
language model also labels, and logits at the predicted positions). GPT2CheckpointTests writes such
a folder where GUIDED_GPT2_EXPORT names one:

    GUIDED_GPT2_EXPORT=/tmp/gpt2-export swift test --skip-build --filter GPT2CheckpointTests
    ~/tools-venv/bin/python tools/make_gpt2_fixture.py --check-guided /tmp/gpt2-export/tiny-gpt2-cls
"""
import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file, load_file
from transformers import GPT2Config, GPT2LMHeadModel, GPT2ForSequenceClassification, GPT2Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "GuidedModelTests", "Fixtures")
TOKENIZER = os.path.join(FIXTURES, "gpt2-tokenizer")

# The first repeats tokens (an embedding row used twice in one sample); the last is short.
TEXTS = ["The cat sat on the mat.", "Where is the house?", "Time again"]


def config_for(tokenizer, **extra):
    eos = tokenizer.eos_token_id
    return GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=None,
                      activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
                      layer_norm_epsilon=1e-5, initializer_range=0.02, bos_token_id=eos, eos_token_id=eos,
                      attn_implementation="eager", **extra)


def write_tokenizer(folder):
    for name in ["vocab.json", "merges.txt"]:
        shutil.copy(os.path.join(TOKENIZER, name), os.path.join(folder, name))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "model_max_length": 64, "add_prefix_space": False,
                   "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
                  f, indent=2)
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
                  f, indent=2)


def save_checkpoint(model, folder, bare=False, buffers=False):
    """save_pretrained, then the weights rewritten as float16 (optionally with bare names and the old
    attention-mask buffers that early checkpoints carry)."""
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    if os.path.exists(os.path.join(folder, "generation_config.json")):
        os.remove(os.path.join(folder, "generation_config.json"))  # not a model file; keep fixtures minimal
    path = os.path.join(folder, "model.safetensors")
    state = load_file(path)
    out = {}
    for name, tensor in state.items():
        if bare and name.startswith("transformer."):
            name = name[len("transformer."):]
        out[name] = tensor.to(torch.float16).contiguous()
    if buffers:
        n = model.config.n_positions
        for i in range(model.config.n_layer):
            out[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n, n, dtype=torch.float16)).view(1, 1, n, n)
            out[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4, dtype=torch.float16)
    save_file(out, path, metadata={"format": "pt"})
    write_tokenizer(folder)


def round_to_half(model):
    """Non-trivial LayerNorm and bias values (so their gradients and any layout mistake show), then
    every weight rounded to float16, the precision the checkpoints store."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
            p.copy_(p.half().float())


def grads(model):
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check-guided", help="a checkpoint folder written by guided, to load in transformers")
    args = parser.parse_args()
    if args.check_guided:
        return check_guided(args.check_guided)

    tokenizer = GPT2Tokenizer(os.path.join(TOKENIZER, "vocab.json"), os.path.join(TOKENIZER, "merges.txt"))
    tokenizer.pad_token = tokenizer.eos_token
    enc = tokenizer(TEXTS, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    labels = ids.masked_fill(mask == 0, -100)  # the collator's labels: -100 at padding
    golden = {"input_ids": ids, "attention_mask": mask, "lm_labels": labels}

    torch.manual_seed(2024)
    lm = GPT2LMHeadModel(config_for(tokenizer))
    round_to_half(lm)
    save_checkpoint(lm, os.path.join(FIXTURES, "tiny-gpt2"), bare=True, buffers=True)

    lm = lm.double().eval()  # dropout off; float64 so the reference is better than what it checks
    lm.zero_grad()
    out = lm(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    predicted = labels[:, 1:] != -100
    golden["lm_logits"] = out.logits[:, :-1][predicted].detach()
    golden["lm_loss"] = out.loss.detach().reshape(1)
    for name, g in grads(lm).items():
        golden["lm_grad." + name] = g

    # Per sample on its own unpadded row: padding contributes nothing.
    fisher = {name: torch.zeros_like(p) for name, p in lm.named_parameters()}
    count = 0
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        if n < 2:
            continue
        lm.zero_grad()
        lm(input_ids=ids[b:b + 1, :n], labels=labels[b:b + 1, :n]).loss.backward()
        for name, p in lm.named_parameters():
            fisher[name] += p.grad.detach() ** 2
        count += 1
    for name, f in fisher.items():
        golden["lm_fisher." + name] = f / count
    golden["lm_fisher_count"] = torch.tensor([float(count)])

    for kind, num_labels, problem in [("cls", 3, "single_label_classification"), ("reg", 1, "regression")]:
        torch.manual_seed(99 if kind == "cls" else 7)
        model = GPT2ForSequenceClassification(config_for(tokenizer, num_labels=num_labels, problem_type=problem,
                                                         pad_token_id=tokenizer.eos_token_id))
        model.transformer.load_state_dict(lm.transformer.float().state_dict())  # the same decoder as the LM
        lm.double()
        with torch.no_grad():
            model.score.weight.copy_(model.score.weight.half().float())
        save_checkpoint(model, os.path.join(FIXTURES, "tiny-gpt2-" + kind))
        model = model.double().eval()
        model.zero_grad()
        y = torch.tensor([2, 0, 1]) if kind == "cls" else torch.tensor([0.5, -1.25, 3.0], dtype=torch.float64)
        o = model(input_ids=ids, attention_mask=mask, labels=y)
        o.loss.backward()
        golden[kind + "_labels"] = y.to(torch.float64)
        golden[kind + "_logits"] = o.logits.detach()
        golden[kind + "_loss"] = o.loss.detach().reshape(1)
        for name, g in grads(model).items():
            if name == "transformer.wte.weight":
                # Only the rows the batch looks up are nonzero: stored as those rows, to keep the file small.
                rows = torch.unique(ids[mask == 1])
                assert g[[r for r in range(g.shape[0]) if r not in set(rows.tolist())]].abs().max() == 0
                golden[kind + "_grad_wte_rows"] = rows
                g = g[rows]
            golden[kind + "_grad." + name] = g

    out_path = os.path.join(FIXTURES, "tiny-gpt2-golden.safetensors")
    save_file({k: (v.to(torch.float32) if v.is_floating_point() else v.to(torch.int64)).contiguous()
               for k, v in golden.items()}, out_path,
              metadata={"generator": "tools/make_gpt2_fixture.py", "torch": torch.__version__,
                        "transformers": __import__("transformers").__version__})
    print(f"wrote {out_path} ({len(golden)} tensors) and checkpoints in {FIXTURES}")


def check_guided(folder):
    """Loads a checkpoint written by guided in transformers: no missing/unexpected keys, same logits."""
    config = json.load(open(os.path.join(folder, "config.json")))
    arch = (config.get("architectures") or ["GPT2LMHeadModel"])[0]
    cls = {"GPT2LMHeadModel": GPT2LMHeadModel, "GPT2ForSequenceClassification": GPT2ForSequenceClassification}[arch]
    model, info = cls.from_pretrained(folder, output_loading_info=True, dtype=torch.float32)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        print("loading problems:", problems)
        return 1
    expected_path = os.path.join(folder, "guided-logits.safetensors")
    if os.path.exists(expected_path):
        expected = load_file(expected_path)
        model.eval()
        with torch.no_grad():
            # guided writes F32 only: ids, mask and labels come as floats holding integers.
            o = model(input_ids=expected["input_ids"].long(), attention_mask=expected["attention_mask"].long())
        logits = o.logits
        if arch == "GPT2LMHeadModel":
            logits = logits[:, :-1][expected["labels"][:, 1:].long() != -100]
        diff = (logits - expected["logits"].reshape(logits.shape)).abs().max().item()
        print(f"max |logits(transformers) - logits(guided)| = {diff:.3g}")
        if diff > 1e-4:
            return 1
    print(f"{folder}: loads in transformers as {arch} with no missing or unexpected keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
