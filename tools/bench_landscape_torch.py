#!/usr/bin/env python3
"""PyTorch reference for `guided landscape`: the MLM loss surface of the paper's Figures 1-2, timed.

    guided fisher --model M --corpus C --max-samples 64 --dump-inputs inputs.jsonl --output f.safetensors
    ~/tools-venv/bin/python tools/bench_landscape_torch.py --model M --inputs inputs.jsonl \
        [--grid 16] [--range=-1.5:1.5] [--1d] [--directions dirs.safetensors | --seed 0] \
        [--save-directions dirs.safetensors] --output grid.json [--compare guided-grid.json]

Method: f(alpha, beta) = L(theta0 + alpha*delta + beta*eta) at every point of the N x N grid,
alpha and beta each lo + i*(hi - lo)/(N - 1), i = 0..N-1 (--grid N, --range lo:hi); with --1d only
alpha varies (beta = 0: N points). L is the mean over samples of each sample's mean MLM
cross-entropy over its predicted tokens (labels != -100), transformers' BertForMaskedLM in eval mode
under inference_mode, the samples of --inputs (the HF collator form `guided fisher --dump-inputs`
writes: input_ids, attention_mask, token_type_ids, labels) with their fixed masks, in batches of
--batch-size padded to the longest (the MLM head runs only on predicted positions, which is exact).
Parameters are those of model.named_parameters(): the decoder weight is tied to the word embeddings
and counted once under `bert.embeddings.word_embeddings.weight`, the decoder bias once as
`cls.predictions.bias`. Between points each perturbed tensor is rewritten in place,
w.copy_(w0).add_(delta, alpha=a).add_(eta, alpha=b); tensors with zero directions are not touched.

Directions: --directions FILE.safetensors holds, for a parameter name P, `delta.P` and `eta.P` of P's
shape (P with or without the `bert.` prefix; an absent name is a zero direction; a name that is no
parameter is an error). Otherwise they are generated: a torch.Generator seeded with --seed draws
torch.randn(shape) for every parameter of 2 or more dimensions in named_parameters() order, all of
delta first, then all of eta; 1-D tensors (biases, LayerNorm) get zero; each tensor is scaled to the
Frobenius norm of its weights (--normalization layer: d <- d / ||d|| * ||w||), or row by row
(--normalization filter: d_i <- d_i / ||d_i|| * ||w_i|| for each row i along dim 0).
--save-directions FILE writes the directions used in the --directions form, so another tool can
evaluate the same surface.

Output (--output): {"alphas": [...], "betas": [...], "loss": [[f(alpha_i, beta_j) for j] for i],
"loss_at_theta0": L(theta0), "samples": n}. --compare OTHER.json prints the largest absolute
difference from another file of that form (same alphas and betas). Prints grid points/s and peak RSS
as a JSON line. Exits 0 with {"skipped": ...} when PyTorch/transformers are absent.
"""
import argparse
import json
import resource
import sys
import time


def grid_values(lo, hi, n):
    return [lo] if n == 1 else [lo + i * (hi - lo) / (n - 1) for i in range(n)]


def load_samples(path):
    samples = [json.loads(line) for line in open(path) if line.strip()]
    return [s for s in samples if any(l != -100 for l in s["labels"])]


def make_batches(samples, batch_size, pad_id, torch):
    """Padded batches with each sample's predicted positions gathered first."""
    batches = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        T = max(len(s["input_ids"]) for s in chunk)
        def tensor(key, fill):
            return torch.tensor([s[key] + [fill] * (T - len(s[key])) for s in chunk])
        ids, types, mask, labels = (tensor("input_ids", pad_id), tensor("token_type_ids", 0),
                                    tensor("attention_mask", 0), tensor("labels", -100))
        predicted = labels != -100
        counts = predicted.sum(1)
        P = int(counts.max())
        order = torch.argsort((~predicted).to(torch.int8), dim=1, stable=True)[:, :P]
        head_labels = labels.gather(1, order).masked_fill(~(torch.arange(P).unsqueeze(0) < counts.unsqueeze(1)), -100)
        batches.append((ids, types, mask, order, head_labels, counts))
    return batches


def mean_loss(model, batches, samples, torch):
    """Mean over samples of each sample's mean MLM loss over its predicted tokens."""
    total = 0.0
    for ids, types, mask, order, head_labels, counts in batches:
        B, P = order.shape
        hidden = model.bert(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
        gathered = hidden.gather(1, order.unsqueeze(-1).expand(B, P, hidden.shape[-1]))
        logits = model.cls(gathered)
        losses = torch.nn.functional.cross_entropy(
            logits.reshape(B * P, -1), head_labels.reshape(-1), reduction="none").view(B, P)
        total += (losses.sum(1).double() / counts.double()).sum().item()
    return total / samples


def generated_directions(params, seed, normalization, torch):
    generator = torch.Generator().manual_seed(seed)
    directions = []
    for _ in ("delta", "eta"):
        ds = {}
        for name, w in params.items():
            if w.dim() < 2:
                continue
            d = torch.randn(w.shape, generator=generator, dtype=torch.float32)
            if normalization == "layer":
                d = d / d.norm() * w.detach().norm()
            else:
                rows_d = d.reshape(d.shape[0], -1).norm(dim=1)
                rows_w = w.detach().reshape(w.shape[0], -1).norm(dim=1)
                d = d * (rows_w / rows_d).reshape(-1, *([1] * (d.dim() - 1)))
            ds[name] = d
        directions.append(ds)
    return directions


def read_directions(path, params):
    from safetensors.torch import load_file
    tensors = load_file(path)
    short = {n.replace("bert.", "", 1): n for n in params}
    delta, eta = {}, {}
    for key, t in tensors.items():
        kind, _, name = key.partition(".")
        if kind not in ("delta", "eta"):
            raise SystemExit(f"{path}: tensor {key!r} is neither delta.NAME nor eta.NAME")
        name = name if name in params else short.get(name)
        if name is None:
            raise SystemExit(f"{path}: {key!r} names no parameter of the model")
        if tuple(t.shape) != tuple(params[name].shape):
            raise SystemExit(f"{path}: {key!r} has shape {list(t.shape)}, {name} has {list(params[name].shape)}")
        (delta if kind == "delta" else eta)[name] = t.to(params[name].dtype)
    return delta, eta


def main():
    argv = sys.argv[1:]
    # `--range -1.5:1.5` would read as an option to argparse: join it as `--range=-1.5:1.5`.
    for i in range(len(argv) - 1):
        if argv[i] == "--range" and argv[i + 1].startswith("-"):
            argv[i:i + 2] = [f"--range={argv[i + 1]}", None]
    argv = [a for a in argv if a is not None]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="BertForMaskedLM checkpoint folder")
    p.add_argument("--inputs", required=True, help="masked samples as `guided fisher --dump-inputs` writes")
    p.add_argument("--grid", type=int, default=16, help="points per axis")
    p.add_argument("--range", default="-1.5:1.5", help="lo:hi of alpha and beta")
    p.add_argument("--1d", dest="one_d", action="store_true", help="alpha only, beta = 0")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--directions", help="safetensors with delta.NAME and eta.NAME tensors")
    p.add_argument("--seed", type=int, default=0, help="seed of generated directions")
    p.add_argument("--normalization", choices=["layer", "filter"], default="layer")
    p.add_argument("--save-directions", help="write the directions used here (safetensors)")
    p.add_argument("--output", help="grid JSON")
    p.add_argument("--compare", help="another grid JSON: print the largest absolute difference")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    args = p.parse_args(argv)
    try:
        lo, hi = (float(x) for x in args.range.split(":"))
    except ValueError:
        p.error(f"--range {args.range!r}: expected lo:hi, e.g. -1.5:1.5")
    if args.grid < 1:
        p.error("--grid must be at least 1")
    try:
        import torch
        from transformers import BertForMaskedLM
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch/transformers not installed ({error})"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)

    samples = load_samples(args.inputs)
    if not samples:
        raise SystemExit(f"{args.inputs}: no sample with a predicted token")
    torch.manual_seed(0)  # a missing MLM head is initialised the same way in every run
    model = BertForMaskedLM.from_pretrained(args.model).eval()
    params = dict(model.named_parameters())  # tied parameters appear once
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    batches = make_batches(samples, args.batch_size, pad_id, torch)
    if args.directions:
        delta, eta = read_directions(args.directions, params)
    else:
        delta, eta = generated_directions(params, args.seed, args.normalization, torch)
    if args.save_directions:
        from safetensors.torch import save_file
        out = {f"delta.{n}": d.contiguous() for n, d in delta.items()}
        out.update({f"eta.{n}": e.contiguous() for n, e in eta.items()})
        save_file(out, args.save_directions)

    alphas = grid_values(lo, hi, args.grid)
    betas = [0.0] if args.one_d else grid_values(lo, hi, args.grid)
    names = [n for n in params if n in delta or (n in eta and not args.one_d)]
    with torch.inference_mode():
        start = time.perf_counter()
        loss0 = mean_loss(model, batches, len(samples), torch)
        seconds0 = time.perf_counter() - start
        origin = {n: params[n].detach().clone() for n in names}
        loss = []
        start = time.perf_counter()
        for a in alphas:
            row = []
            for b in betas:
                for n in names:
                    w = params[n]
                    w.copy_(origin[n])
                    if n in delta:
                        w.add_(delta[n], alpha=a)
                    if n in eta and b != 0.0:
                        w.add_(eta[n], alpha=b)
                row.append(mean_loss(model, batches, len(samples), torch))
            loss.append(row)
        seconds = time.perf_counter() - start
        for n in names:
            params[n].copy_(origin[n])
    points = len(alphas) * len(betas)
    grid = {"alphas": alphas, "betas": betas, "loss": loss, "loss_at_theta0": loss0, "samples": len(samples),
            "directions": args.directions or {"seed": args.seed, "normalization": args.normalization}}
    if args.output:
        with open(args.output, "w") as f:
            json.dump(grid, f)
    result = {"points": points, "samples": len(samples), "seconds": seconds, "points_per_s": points / seconds,
              "samples_per_s": points * len(samples) / seconds, "seconds_at_theta0": seconds0,
              "loss_at_theta0": loss0, "perturbed_tensors": len(names), "batch_size": args.batch_size,
              "threads": torch.get_num_threads(),
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.compare:
        other = json.load(open(args.compare))
        for axis, mine in (("alphas", alphas), ("betas", betas)):
            theirs = other.get(axis, [])
            if len(theirs) != len(mine) or any(abs(x - y) > 1e-6 for x, y in zip(mine, theirs)):
                raise SystemExit(f"{args.compare}: {axis} differ from this grid's")
        worst, at = 0.0, None
        for i, row in enumerate(loss):
            for j, v in enumerate(row):
                d = abs(v - other["loss"][i][j])
                if d >= worst:
                    worst, at = d, [alphas[i], betas[j]]
        result["max_abs_difference"] = worst
        result["at"] = at
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
