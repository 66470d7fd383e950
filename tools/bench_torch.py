#!/usr/bin/env python3
"""PyTorch + transformers reference timings for `guided bench --models` (same shapes, same machine).

Times, for BERT-shaped models with random weights at batch 8 × 128 tokens:
  - forward: BertForSequenceClassification in eval mode under torch.no_grad();
  - train step: forward + backward + AdamW step (lr 2e-5, eps 1e-6), dropout on (model.train()).
Prints one JSON object per shape on stdout: samples/s for each, and the process's peak RSS.

    ~/tools-venv/bin/python tools/bench_torch.py --shapes minilm --threads 2

Exits 0 with {"skipped": "..."} when PyTorch is not installed, so a driver can run it anywhere.
"""
import argparse
import json
import resource
import sys
import time

SHAPES = {
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536),
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", default="minilm", help="minilm, bert-base or all")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    args = parser.parse_args()
    try:
        import torch
        from transformers import BertConfig, BertForSequenceClassification
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch/transformers not installed ({error})"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list(SHAPES) if args.shapes == "all" else [args.shapes]
    for name in names:
        torch.manual_seed(0)
        config = BertConfig(vocab_size=30522, max_position_embeddings=512, num_labels=2, **SHAPES[name])
        model = BertForSequenceClassification(config)
        ids = torch.randint(1000, 30000, (args.batch, args.tokens))
        labels = torch.randint(0, 2, (args.batch,))
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, eps=1e-6, weight_decay=0.0)

        model.eval()
        with torch.no_grad():
            model(input_ids=ids)
            start = time.perf_counter()
            for _ in range(args.steps):
                model(input_ids=ids)
            forward = (time.perf_counter() - start) / args.steps

        model.train()
        def step():
            optimizer.zero_grad(set_to_none=True)
            model(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
        step()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        train = (time.perf_counter() - start) / args.steps
        print(json.dumps({
            "shape": name, "batch": args.batch, "tokens": args.tokens, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "forward_samples_per_s": args.batch / forward,
            "train_step_samples_per_s": args.batch / train,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
