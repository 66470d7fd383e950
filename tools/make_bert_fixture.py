#!/usr/bin/env python3
"""Golden values from Hugging Face `transformers` for the BERT golden tests.

Developers run this; CI never does (the fixtures it writes are committed, so tests need no PyTorch).

    python3 -m venv ~/tools-venv && ~/tools-venv/bin/pip install "torch==2.13.0+cpu" transformers safetensors
    ~/tools-venv/bin/python tools/make_bert_fixture.py --vocab /path/to/bert-base-uncased/vocab.txt

It builds a tiny randomly initialised BERT (2 layers, hidden 32, 4 heads, FFN 64) whose vocabulary
is a subset of a real WordPiece vocabulary, saves it as three checkpoints in
Tests/GuidedModelTests/Fixtures/ (masked LM; sequence classification with 3 labels, names with the
`bert.` prefix; regression), and writes `tiny-bert-golden.safetensors` with, computed in float64:

- the inputs of a fixed masked batch with padding (ids, segment ids, attention mask, labels);
- MLM logits at the predicted positions, the batch-mean loss, and every parameter's gradient;
- classification and regression logits, losses and gradients;
- the per-sample empirical Fisher: the mean over samples of each sample's squared gradient, where a
  sample's loss is the mean cross-entropy over its own predicted tokens.

With `--check-guided DIR` it instead loads a checkpoint written by `guided` and checks that
`transformers` loads it with no missing or unexpected keys and gives the logits stored in
DIR/guided-logits.safetensors (if present).
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file, load_file
from transformers import (BertConfig, BertForMaskedLM, BertForSequenceClassification, BertTokenizer)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "GuidedModelTests", "Fixtures")

TEXTS = [
    ("the cat sat on the mat . the cat was happy", "a dog ran"),
    ("where is the house ?", "it is in the city"),
    ("time and time again", None),
]


def tiny_vocab(full_vocab_path):
    """Specials, printable ASCII, ## continuations of letters and digits, and the most frequent words
    of the real vocabulary (which start at line 1997 of bert-base-uncased's vocab.txt)."""
    with open(full_vocab_path, encoding="utf-8") as f:
        full = [line.rstrip("\n") for line in f]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += [chr(c) for c in range(33, 127) if chr(c) not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    words = [w for w in full[1996:] if w.isalpha() and w.isascii() and len(w) > 1]
    for w in words:
        if len(vocab) >= 400:
            break
        if w not in vocab:
            vocab.append(w)
    return vocab


def config_for(vocab_size, **extra):
    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                      hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0, initializer_range=0.02,
                      hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, **extra)


def save_checkpoint(model, folder, vocab):
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer", "model_max_length": 64}, f, indent=2)


def masked_batch(tokenizer):
    """The golden batch: padded pairs, a fixed selection of predicted tokens with the 80/10/10
    replacement spelled out, and a [PAD] id placed inside one sequence."""
    first = [a for a, _ in TEXTS]
    second = [b for _, b in TEXTS]
    enc = tokenizer([a for a in first], [b if b is not None else "" for b in second], padding=True,
                    return_tensors="pt")
    # The third sample has no second segment: re-encode it alone to get a single-segment layout.
    single = tokenizer(TEXTS[2][0], return_tensors="pt")
    ids = enc["input_ids"].clone()
    types = enc["token_type_ids"].clone()
    mask = enc["attention_mask"].clone()
    n = single["input_ids"].shape[1]
    ids[2].fill_(tokenizer.pad_token_id); types[2].zero_(); mask[2].zero_()
    ids[2, :n] = single["input_ids"][0]; mask[2, :n] = 1
    labels = torch.full_like(ids, -100)
    specials = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    chosen = {0: [1, 2, 5, 9], 1: [1, 4, 8], 2: [2, 4]}
    for b, positions in chosen.items():
        for k, t in enumerate(positions):
            assert ids[b, t].item() not in specials, (b, t)
            labels[b, t] = ids[b, t]
            if k % 3 == 0:
                ids[b, t] = tokenizer.mask_token_id
            elif k % 3 == 1:
                ids[b, t] = 7 + b  # a "random" replacement
            # else: kept as it is
    # A [PAD] id inside a sequence (attended): its embedding row still gets no lookup gradient.
    ids[1, 2] = tokenizer.pad_token_id
    return ids, types, mask, labels


def grads(model):
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def per_sample_fisher(model, ids, types, mask, labels, loss_fn):
    fisher = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    count = 0
    for b in range(ids.shape[0]):
        model.zero_grad()
        loss = loss_fn(b)
        if loss is None:
            continue
        loss.backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                fisher[name] += p.grad.detach() ** 2
        count += 1
    return {name: f / count for name, f in fisher.items()}, count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", help="a real WordPiece vocab.txt (bert-base-uncased)")
    parser.add_argument("--check-guided", help="a checkpoint folder written by guided, to load in transformers")
    args = parser.parse_args()
    if args.check_guided:
        return check_guided(args.check_guided)
    if not args.vocab:
        parser.error("--vocab is required")

    torch.manual_seed(1234)
    vocab = tiny_vocab(args.vocab)
    mlm = BertForMaskedLM(config_for(len(vocab)))
    # Non-trivial LayerNorm and bias values, so that their gradients and any layout mistake show.
    with torch.no_grad():
        for name, p in mlm.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    mlm_dir = os.path.join(FIXTURES, "tiny-bert")
    save_checkpoint(mlm, mlm_dir, vocab)
    tokenizer = BertTokenizer(os.path.join(mlm_dir, "vocab.txt"), do_lower_case=True)

    ids, types, mask, labels = masked_batch(tokenizer)
    golden = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "mlm_labels": labels}

    mlm = mlm.double().eval()  # dropout off; float64 so the reference is better than what it checks
    mlm.zero_grad()
    out = mlm(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
    out.loss.backward()
    selected = labels != -100
    golden["mlm_logits"] = out.logits[selected].detach()
    golden["mlm_loss"] = out.loss.detach().reshape(1)
    for name, g in grads(mlm).items():
        golden["mlm_grad." + name] = g

    def mlm_sample_loss(b):
        lab = labels[b:b + 1]
        if (lab != -100).sum() == 0:
            return None
        o = mlm(input_ids=ids[b:b + 1], token_type_ids=types[b:b + 1], attention_mask=mask[b:b + 1], labels=lab)
        return o.loss

    # Per sample on its own (unpadded) row equals the padded row: padding contributes nothing.
    fisher, count = per_sample_fisher(mlm, ids, types, mask, labels, mlm_sample_loss)
    for name, f in fisher.items():
        golden["mlm_fisher." + name] = f
    golden["mlm_fisher_count"] = torch.tensor([float(count)])

    for kind, num_labels, problem in [("cls", 3, "single_label_classification"), ("reg", 1, "regression")]:
        torch.manual_seed(99 if kind == "cls" else 7)
        model = BertForSequenceClassification(config_for(len(vocab), num_labels=num_labels, problem_type=problem))
        # The same encoder as the MLM checkpoint; a pooler and classifier of its own.
        state = {k[len("bert."):]: v for k, v in BertForMaskedLM.from_pretrained(mlm_dir).state_dict().items()
                 if k.startswith("bert.")}
        model.bert.load_state_dict(state, strict=False)
        with torch.no_grad():
            model.classifier.bias.add_(0.1 * torch.randn_like(model.classifier.bias))
        folder = os.path.join(FIXTURES, "tiny-bert-" + kind)
        save_checkpoint(model, folder, vocab)
        model = model.double().eval()
        model.zero_grad()
        y = torch.tensor([2, 0, 1]) if kind == "cls" else torch.tensor([0.5, -1.25, 3.0], dtype=torch.float64)
        plain_ids = ids.clone()
        plain_ids[labels != -100] = labels[labels != -100]  # the unmasked texts
        o = model(input_ids=plain_ids, token_type_ids=types, attention_mask=mask, labels=y)
        o.loss.backward()
        golden[kind + "_labels"] = y.to(torch.float64)
        golden[kind + "_input_ids"] = plain_ids
        golden[kind + "_logits"] = o.logits.detach()
        golden[kind + "_loss"] = o.loss.detach().reshape(1)
        for name, g in grads(model).items():
            golden[kind + "_grad." + name] = g

    out_path = os.path.join(FIXTURES, "tiny-bert-golden.safetensors")
    save_file({k: (v.to(torch.float32) if v.is_floating_point() else v.to(torch.int64)).contiguous()
               for k, v in golden.items()}, out_path,
              metadata={"generator": "tools/make_bert_fixture.py", "torch": torch.__version__,
                        "transformers": __import__("transformers").__version__})
    print(f"wrote {out_path} ({len(golden)} tensors) and checkpoints in {FIXTURES}")


def check_guided(folder):
    """Loads a checkpoint written by guided in transformers: no missing/unexpected keys, same logits."""
    config = json.load(open(os.path.join(folder, "config.json")))
    arch = (config.get("architectures") or ["BertForSequenceClassification"])[0]
    cls = {"BertForMaskedLM": BertForMaskedLM, "BertForSequenceClassification": BertForSequenceClassification}[arch]
    model, info = cls.from_pretrained(folder, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        print("loading problems:", problems)
        return 1
    expected_path = os.path.join(folder, "guided-logits.safetensors")
    if os.path.exists(expected_path):
        expected = load_file(expected_path)
        model.eval()
        with torch.no_grad():
            o = model(input_ids=expected["input_ids"], token_type_ids=expected["token_type_ids"],
                      attention_mask=expected["attention_mask"])
        diff = (o.logits - expected["logits"]).abs().max().item()
        print(f"max |logits(transformers) - logits(guided)| = {diff:.3g}")
        if diff > 1e-4:
            return 1
    print(f"{folder}: loads in transformers as {arch} with no missing or unexpected keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
