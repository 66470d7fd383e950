#!/usr/bin/env python3
"""PyTorch reference timings for `guided finetune`: the paper's fine-tuning recipe, timed.

    ~/tools-venv/bin/python tools/bench_finetune_torch.py --make-data sst2.jsonl --examples 2000 \
        --text corpus.txt
    ~/tools-venv/bin/python tools/bench_finetune_torch.py --model M --task sst2 --data sst2.jsonl \
        [--max-steps 50] [--threads 2]

Method: transformers' BertForSequenceClassification from --model (a missing classifier initialised
N(0, 0.02^2) after torch.manual_seed(--seed)), in train mode with the config's dropout (0.1); AdamW
with lr 2e-5, betas (0.9, 0.999), eps 1e-6, weight decay 0; the linear schedule of
get_linear_schedule_with_warmup over the recipe's whole run (--epochs 3 of ceil(N/8) steps, warm-up
ceil(10%) of them), stepped after every optimizer step; batch 8; each example tokenised once (not
timed) with AutoTokenizer, truncated to --max-length 128 (longest-first for pairs); each batch padded
to its longest example (dynamic padding). Batches follow a seeded shuffle per epoch. 3 untimed
warm-up steps, then --max-steps timed ones (forward, backward, optimizer and scheduler step,
padding). Prints one JSON line: samples/s, steps, seconds, mean padded tokens per batch, last loss,
threads, peak RSS.

Data: JSON Lines with the `datasets` GLUE field names: sst2/cola `sentence`; mrpc/rte/stsb/wnli
`sentence1`, `sentence2`; qqp `question1`, `question2`; qnli `question`, `sentence`; mnli `premise`,
`hypothesis`; and `label` (stsb: a float, regression with one output).

--make-data OUT.jsonl --examples N --text FILE writes a deterministic SST-2-form file so that guided
and PyTorch can be timed on the same data: FILE's whitespace-separated words, taken consecutively
(wrapping around at the end), are cut into sentences; sentence i (0-based) has
5 + (sha256(str(i))[0] mod 36) words (5 to 40) and label sha256(sentence, UTF-8)[0] mod 2; each line
is {"sentence": ..., "label": ..., "idx": i}.

Exits 0 with {"skipped": ...} when PyTorch/transformers are absent.
"""
import argparse
import hashlib
import json
import math
import random
import resource
import sys
import time

FIELDS = {
    "cola": ("sentence", None), "sst2": ("sentence", None),
    "mrpc": ("sentence1", "sentence2"), "stsb": ("sentence1", "sentence2"),
    "rte": ("sentence1", "sentence2"), "wnli": ("sentence1", "sentence2"),
    "qqp": ("question1", "question2"), "qnli": ("question", "sentence"),
    "mnli": ("premise", "hypothesis"),
}
LABELS = {"mnli": 3, "stsb": 1}


def make_data(out, examples, text):
    words = open(text, encoding="utf-8", errors="replace").read().split()
    if not words:
        raise SystemExit(f"{text}: no words")
    position = 0
    with open(out, "w", encoding="utf-8") as f:
        for i in range(examples):
            count = 5 + hashlib.sha256(str(i).encode()).digest()[0] % 36
            sentence = " ".join(words[(position + k) % len(words)] for k in range(count))
            position = (position + count) % len(words)
            label = hashlib.sha256(sentence.encode("utf-8")).digest()[0] % 2
            f.write(json.dumps({"sentence": sentence, "label": label, "idx": i}, ensure_ascii=False) + "\n")
    print(json.dumps({"wrote": out, "examples": examples}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="BERT checkpoint folder (BertForSequenceClassification)")
    p.add_argument("--task", choices=sorted(FIELDS), default="sst2")
    p.add_argument("--data", help="GLUE training examples as JSON Lines")
    p.add_argument("--max-steps", type=int, default=50, help="timed optimizer steps (after 3 warm-up steps)")
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3, help="length of the learning-rate schedule")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--make-data", metavar="OUT.jsonl", help="write a deterministic SST-2-form file and exit")
    p.add_argument("--examples", type=int, default=1000, help="examples for --make-data")
    p.add_argument("--text", help="text file the --make-data sentences are cut from")
    args = p.parse_args()
    if args.make_data:
        if not args.text:
            p.error("--make-data needs --text FILE")
        make_data(args.make_data, args.examples, args.text)
        return 0
    if not args.model or not args.data:
        p.error("--model and --data are required (or --make-data)")
    try:
        import torch
        from transformers import AutoTokenizer, BertForSequenceClassification, get_linear_schedule_with_warmup
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch/transformers not installed ({error})"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)

    text_field, pair_field = FIELDS[args.task]
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8") if line.strip()]
    if not rows:
        raise SystemExit(f"{args.data}: no examples")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    start = time.perf_counter()
    firsts = [r[text_field] for r in rows]
    seconds_ = [r[pair_field] for r in rows] if pair_field else None
    encoded = tokenizer(firsts, seconds_, truncation=True, max_length=args.max_length)
    tokenize_seconds = time.perf_counter() - start
    regression = args.task == "stsb"
    labels = [float(r["label"]) if regression else int(r["label"]) for r in rows]

    torch.manual_seed(args.seed)
    model = BertForSequenceClassification.from_pretrained(args.model, num_labels=LABELS.get(args.task, 2))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(rows) / args.batch_size)
    total = steps_per_epoch * args.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(0.1 * total), total)
    pad_id = tokenizer.pad_token_id

    def batches():
        epoch = 0
        while True:
            order = list(range(len(rows)))
            random.Random(args.seed * 1000003 + epoch).shuffle(order)
            for s in range(0, len(order), args.batch_size):
                yield order[s:s + args.batch_size]
            epoch += 1

    def collate(indices):
        T = max(len(encoded["input_ids"][i]) for i in indices)
        def pad(key, fill):
            return torch.tensor([encoded[key][i] + [fill] * (T - len(encoded[key][i])) for i in indices])
        dtype = torch.float32 if regression else torch.long
        return (pad("input_ids", pad_id), pad("token_type_ids", 0), pad("attention_mask", 0),
                torch.tensor([labels[i] for i in indices], dtype=dtype)), len(indices), T

    stream = batches()

    def step():
        (ids, types, mask, y), count, T = collate(next(stream))
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=y).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss.item(), count, count * T

    for _ in range(args.warmup_steps):
        step()
    samples = tokens = 0
    loss = float("nan")
    start = time.perf_counter()
    for _ in range(args.max_steps):
        loss, count, padded = step()
        samples += count
        tokens += padded
    seconds = time.perf_counter() - start
    print(json.dumps({
        "task": args.task, "examples": len(rows), "steps": args.max_steps, "warmup_steps": args.warmup_steps,
        "batch_size": args.batch_size, "samples": samples, "seconds": seconds,
        "samples_per_s": samples / seconds if seconds > 0 else None,
        "mean_padded_tokens_per_batch": tokens / max(1, args.max_steps), "last_loss": loss,
        "tokenize_seconds": tokenize_seconds, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
