#!/usr/bin/env python3
"""PyTorch reference for `guided fisher`: the same Fisher from the same masked inputs, timed.

    guided fisher --model M --corpus C --max-samples 64 --dump-inputs inputs.jsonl --output g.safetensors
    ~/tools-venv/bin/python tools/bench_fisher_torch.py --model M --inputs inputs.jsonl \
        --compare g.safetensors

Method (exact: the mean over samples of the squared per-sample gradient of the mean MLM loss over
the sample's predicted tokens, model in eval mode):
  loop  the paper's code: one forward and backward per sample (batch size 1), square, add.
(torch.func.vmap over transformers' BERT fails on data-dependent control flow in its attention
mask handling, so a batched per-sample method needs module hooks: not written yet.)
Prints samples/s and peak RSS per method as JSON lines, and with --compare the largest relative
difference from guided's Fisher file. Exits 0 with {"skipped": ...} when PyTorch is absent.
"""
import argparse
import json
import resource
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--method", action="append", choices=["loop"])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--compare")
    args = p.parse_args()
    try:
        import torch
        from transformers import BertForMaskedLM
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch/transformers not installed ({error})"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    samples = [json.loads(line) for line in open(args.inputs) if line.strip()]
    samples = [s for s in samples if any(l != -100 for l in s["labels"])]
    model = BertForMaskedLM.from_pretrained(args.model).eval()
    params = {n: p for n, p in model.named_parameters()}

    def sample_loss(ids, types, mask, labels):
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
        return out.loss

    def loop():
        fisher = {n: torch.zeros_like(p) for n, p in params.items()}
        for s in samples:
            model.zero_grad(set_to_none=True)
            t = lambda k: torch.tensor([s[k]])
            sample_loss(t("input_ids"), t("token_type_ids"), t("attention_mask"), t("labels")).backward()
            for n, p in params.items():
                if p.grad is not None:
                    fisher[n] += p.grad ** 2
        return fisher

    for method in args.method or ["loop"]:
        start = time.perf_counter()
        fisher = {"loop": loop}[method]()
        seconds = time.perf_counter() - start
        result = {"method": method, "samples": len(samples), "seconds": seconds,
                  "samples_per_s": len(samples) / seconds, "threads": torch.get_num_threads(),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if args.compare:
            from safetensors.torch import load_file
            guided = load_file(args.compare)
            means = {n: f / len(samples) for n, f in fisher.items()}
            floor = 1e-6 * max(m.abs().max().item() for m in means.values())
            worst, where = 0.0, ""
            for n, mean in means.items():
                key = n if n in guided else n.replace("bert.", "", 1)
                # Relative to the tensor's scale, floored at 1e-6 of the global one: the attention key
                # bias has a Fisher of exactly 0 in exact arithmetic, and rounding noise elsewhere.
                scale = max(mean.abs().max().item(), floor)
                d = (guided[key] - mean).abs().max().item() / scale
                if d > worst:
                    worst, where = d, n
            result["max_relative_difference_vs_guided"] = worst
            result["worst_tensor"] = where
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
