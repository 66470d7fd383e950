#!/usr/bin/env python3
"""PyTorch + transformers reference timings for `guided bench --models` (same shapes, same machine).

Times, for models with random weights at batch 8 × 128 tokens:
  - forward: the sequence classifier (2 labels) in eval mode under torch.no_grad();
  - train step: forward + backward + AdamW step (lr 2e-5, eps 1e-6), dropout on (model.train()).
Shapes:
  minilm        BertForSequenceClassification, hidden 384, 6 layers, 12 heads, FFN 1536
  bert-base     BertForSequenceClassification, hidden 768, 12 layers, 12 heads, FFN 3072
  gpt2-tiny-6l  GPT2ForSequenceClassification, n_embd 384, 6 layers, 12 heads (quick checks)
  gpt2-small    GPT2ForSequenceClassification, n_embd 768, 12 layers, 12 heads (GPT-2 small)
BERT rows are full length without an attention mask. GPT-2 (vocab 50257, n_positions 1024, n_inner
4·n_embd, gelu_new, pad_token_id 50256) gets right-padded rows with an attention mask: row i of B
keeps T - floor(i·T / 2B) tokens (T down to just over T/2), the rest is pad_token_id with mask 0, so
the classifier reads each row's last real token.
Prints one JSON object per shape on stdout: samples/s for each, and the process's peak RSS.

    ~/tools-venv/bin/python tools/bench_torch.py --shapes minilm --threads 2
    ~/tools-venv/bin/python tools/bench_torch.py --shapes gpt2-small --threads 2
    ~/tools-venv/bin/python tools/bench_torch.py --shapes gpt2-tiny-6l --steps 2    # quick check

--shapes takes one shape, a comma-separated list, or all. Exits 0 with {"skipped": "..."} when
PyTorch is not installed, so a driver can run it anywhere.
"""
import argparse
import json
import resource
import sys
import time

BERT = dict(vocab_size=30522, max_position_embeddings=512)
GPT2 = dict(vocab_size=50257, n_positions=1024, n_inner=None, activation_function="gelu_new", pad_token_id=50256)
SHAPES = {
    "minilm": ("bert", dict(BERT, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)),
    "bert-base": ("bert", dict(BERT, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)),
    "gpt2-tiny-6l": ("gpt2", dict(GPT2, n_embd=384, n_layer=6, n_head=12)),
    "gpt2-small": ("gpt2", dict(GPT2, n_embd=768, n_layer=12, n_head=12)),
}


def build(name, batch, tokens, torch, transformers):
    """The shape's random-weight classifier and its inputs (keyword arguments of the forward)."""
    family, sizes = SHAPES[name]
    if family == "bert":
        model = transformers.BertForSequenceClassification(transformers.BertConfig(num_labels=2, **sizes))
        return model, {"input_ids": torch.randint(1000, 30000, (batch, tokens))}
    model = transformers.GPT2ForSequenceClassification(transformers.GPT2Config(num_labels=2, **sizes))
    ids = torch.randint(1000, 50000, (batch, tokens))
    lengths = torch.tensor([tokens - i * tokens // (2 * batch) for i in range(batch)])
    mask = (torch.arange(tokens).unsqueeze(0) < lengths.unsqueeze(1)).long()
    ids = ids.masked_fill(mask == 0, sizes["pad_token_id"])
    return model, {"input_ids": ids, "attention_mask": mask}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", default="minilm", help=", ".join(SHAPES) + ", a comma-separated list, or all")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    args = parser.parse_args()
    names = list(SHAPES) if args.shapes == "all" else args.shapes.split(",")
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; choose from {', '.join(SHAPES)} or all")
    try:
        import torch
        import transformers
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch/transformers not installed ({error})"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in names:
        torch.manual_seed(0)
        model, inputs = build(name, args.batch, args.tokens, torch, transformers)
        labels = torch.randint(0, 2, (args.batch,))
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, eps=1e-6, weight_decay=0.0)

        model.eval()
        with torch.no_grad():
            model(**inputs)
            start = time.perf_counter()
            for _ in range(args.steps):
                model(**inputs)
            forward = (time.perf_counter() - start) / args.steps

        model.train()
        def step():
            optimizer.zero_grad(set_to_none=True)
            model(**inputs, labels=labels).loss.backward()
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
        del model, optimizer
    return 0


if __name__ == "__main__":
    sys.exit(main())
