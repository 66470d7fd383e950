#!/usr/bin/env python3
"""PyTorch reference for `guided fisher`: the same Fisher from the same masked inputs, timed.

    guided fisher --model M --corpus C --max-samples 64 --dump-inputs inputs.jsonl --output g.safetensors
    ~/tools-venv/bin/python tools/bench_fisher_torch.py --model M --inputs inputs.jsonl \
        --compare g.safetensors [--method loop] [--method hooks] [--batch-size 8] [--threads 2]

Method (exact: the mean over samples of the squared per-sample gradient of the mean MLM loss over
the sample's predicted tokens, transformers' BertForMaskedLM in eval mode):
  loop   the paper's code: one forward and backward per sample (batch size 1), square, add.
  hooks  batched per-sample gradients from module hooks, --batch-size samples padded to the longest
         in the batch. The batch loss is the SUM over samples of each sample's mean loss, so the
         gradient reaching a token belongs to its own sample only. All parameters are frozen (no
         batch weight gradient is ever formed); forward hooks keep each module's input and put a
         tensor hook on its output, which receives dY and squares the per-sample gradients of that
         module alone, so only one layer's per-sample gradients exist at a time:
           nn.Linear     G_n = dY_n^T X_n over sample n's own tokens (padding is at the end of a
                         row, so a slice: padded positions cost nothing), one reused [out, in]
                         buffer, F_W += G_n*G_n (addcmul); F_b += (sum_t dY_n,t)^2
           nn.LayerNorm  F_gamma += sum_n (sum_t dY*xhat)^2, F_beta += sum_n (sum_t dY)^2 with dY
                         zeroed at padding (xhat recomputed from the kept input by layer_norm
                         without affine parameters)
           nn.Embedding  per sample, the token gradients summed per looked-up row (torch.unique over
                         sample*rows+id), squared, added to those rows; the padding_idx row gets no
                         lookup gradient, as in PyTorch. Word, position and token-type embeddings.
         The MLM head runs only on each sample's predicted positions (gathered, exact: the other
         positions have no loss). The decoder weight is tied to the word embeddings, so a sample's
         gradient of that tensor is D_n (decoder, dense) + E_n (its lookups, sparse), squared
         together: the decoder hook adds D_n^2 and keeps D_n at the rows sample n looked up; after
         the backward, those rows get E_n*(2 D_n + E_n). The decoder bias is `cls.predictions.bias`.
         Padding positions are left out (Linear) or zeroed by the attention mask (LayerNorm,
         Embedding) before anything is summed; a sample's attention_mask must be ones then zeros.
(torch.func.vmap over transformers' BERT fails on data-dependent control flow in its attention
mask handling, hence hooks.)

With more than one --method (default: loop and hooks), each method runs in its own child process,
so the reported peak RSS is that method's own; the last line gives the largest relative difference
between the methods' Fisher (per tensor, relative to the tensor's largest value, floored at 1e-6 of
the global largest). Prints samples/s and peak RSS per method as JSON lines, and with --compare the
largest relative difference from guided's Fisher file. --save FILE writes the Fisher (mean) as
safetensors. Exits 0 with {"skipped": ...} when PyTorch is absent.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

METHODS = ["loop", "hooks"]


def max_relative_difference(reference, other):
    """Largest |other - reference| per tensor, relative to the reference tensor's largest |value|,
    floored at 1e-6 of the global largest (the attention key bias has a Fisher of exactly 0 in exact
    arithmetic, and rounding noise elsewhere). Tensor names match with or without `bert.`."""
    floor = 1e-6 * max(m.abs().max().item() for m in reference.values())
    worst, where = 0.0, ""
    for n, ref in reference.items():
        key = n if n in other else n.replace("bert.", "", 1)
        scale = max(ref.abs().max().item(), floor)
        d = (other[key] - ref).abs().max().item() / scale
        if d > worst:
            worst, where = d, n
    return worst, where


def load_samples(path):
    samples = [json.loads(line) for line in open(path) if line.strip()]
    return [s for s in samples if any(l != -100 for l in s["labels"])]


def fisher_loop(model, samples, torch):
    """Sum over samples of squared per-sample gradients, one forward/backward per sample."""
    params = dict(model.named_parameters())
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    for s in samples:
        model.zero_grad(set_to_none=True)
        t = lambda k: torch.tensor([s[k]])
        model(input_ids=t("input_ids"), token_type_ids=t("token_type_ids"),
              attention_mask=t("attention_mask"), labels=t("labels")).loss.backward()
        for n, p in params.items():
            if p.grad is not None:
                fisher[n] += p.grad ** 2
    return fisher


class HookedFisher:
    """Batched exact per-sample squared gradients of BertForMaskedLM from module hooks."""

    def __init__(self, model, torch):
        import torch.nn as nn
        self.torch, self.model = torch, model
        self.params = dict(model.named_parameters())  # tied parameters appear once
        self.name_of = {id(p): n for n, p in self.params.items()}
        self.fisher = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.word = model.get_input_embeddings()
        decoder = model.get_output_embeddings()
        self.decoder = decoder if decoder is not None and decoder.weight is self.word.weight else None
        self.masks, self.lengths, self.buffers = {}, {}, {}
        covered = set()
        for name, module in model.named_modules():
            region = "head" if name.startswith("cls.") else "body"
            if isinstance(module, (nn.Linear, nn.LayerNorm, nn.Embedding)):
                module.register_forward_hook(self._forward_hook(region))
                covered.update(id(p) for p in module.parameters(recurse=False))
        missing = [n for n, p in self.params.items() if id(p) not in covered]
        if missing:
            raise SystemExit(f"hooks: parameters outside Linear/LayerNorm/Embedding: {missing}")
        for p in self.params.values():
            p.requires_grad_(False)

    def _forward_hook(self, region):
        import torch.nn as nn

        def hook(module, inputs, output):
            x = inputs[0].detach()
            if isinstance(module, nn.Embedding):
                # A leaf (parameters are frozen) of the batch's shape: the position embeddings come
                # as [1, T, H] and are broadcast, which would sum their gradient over the samples.
                B = self.masks[region].shape[0]
                if output.shape[0] != B:
                    output = output.expand(B, *output.shape[1:]).contiguous()
                output.requires_grad_(True)
                grad = lambda g: self._embedding(module, x, g, region)
            elif isinstance(module, nn.LayerNorm):
                grad = lambda g: self._layer_norm(module, x, g, region)
            else:
                grad = lambda g: self._linear(module, x, g, region)
            if output.requires_grad:
                output.register_hook(grad)
            return output
        return hook

    def _masked(self, g, region):
        return g * self.masks[region].unsqueeze(-1).to(g.dtype)

    def _linear(self, module, x, g, region):
        torch = self.torch
        lengths = self.lengths[region]
        weight = self.fisher[self.name_of[id(module.weight)]]
        bias = self.fisher[self.name_of[id(module.bias)]] if module.bias is not None else None
        G = self.buffer(module.weight.shape)
        tied = module is self.decoder
        for n, length in enumerate(lengths):
            # Sample n's gradient from its own tokens only (padding is at the end, so a slice).
            g_n, x_n = g[n, :length], x[n, :length]
            torch.mm(g_n.t(), x_n, out=G)
            if tied:
                at = self.key_sample == n
                self.key_decoder[at] = G[self.key_row[at]]
            weight.addcmul_(G, G)
            if bias is not None:
                b_n = g_n.sum(0)
                bias.addcmul_(b_n, b_n)

    def buffer(self, shape):
        """One reused [out, in] buffer per shape for the per-sample gradient of a Linear weight."""
        if shape not in self.buffers:
            self.buffers[shape] = self.torch.empty(shape)
        return self.buffers[shape]

    def _layer_norm(self, module, x, g, region):
        torch = self.torch
        g = self._masked(g, region)
        xhat = torch.nn.functional.layer_norm(x, module.normalized_shape, eps=module.eps)
        self.fisher[self.name_of[id(module.weight)]] += (g * xhat).sum(1).square().sum(0)
        self.fisher[self.name_of[id(module.bias)]] += g.sum(1).square().sum(0)

    def _lookup_keys(self, module, idx, mask):
        """Unique (sample, row) pairs a batch looks up, and each valid position's index into them."""
        torch = self.torch
        B, T = mask.shape
        idx = idx.expand(B, T)
        valid = mask > 0
        if module.padding_idx is not None:
            valid = valid & (idx != module.padding_idx)
        rows = module.weight.shape[0]
        keys = (torch.arange(B).unsqueeze(1) * rows + idx)[valid]
        unique, inverse = torch.unique(keys, return_inverse=True)
        return valid, unique, inverse

    def _embedding(self, module, idx, g, region):
        torch = self.torch
        mask = self.masks[region]
        if module is self.word and self.decoder is not None:
            valid, unique, inverse = self.word_keys
        else:
            valid, unique, inverse = self._lookup_keys(module, idx, mask)
        rows = module.weight.shape[0]
        E = torch.zeros(unique.shape[0], g.shape[-1], dtype=g.dtype).index_add_(0, inverse, g[valid])
        if module is self.word and self.decoder is not None:
            self.key_lookup = E  # combined with the decoder's part after the backward
        else:
            self.fisher[self.name_of[id(module.weight)]].index_add_(0, unique % rows, E.square())

    def batch(self, batch):
        """Adds one padded batch's per-sample squared gradients to self.fisher."""
        torch = self.torch
        ids, types, mask, labels = batch
        B, T = ids.shape
        H = self.word.weight.shape[1]
        predicted = labels != -100
        counts = predicted.sum(1)
        P = int(counts.max())
        # Predicted positions first (stable), so [:, :P] holds each sample's predicted tokens.
        order = torch.argsort((~predicted).to(torch.int8), dim=1, stable=True)[:, :P]
        head_mask = torch.arange(P).unsqueeze(0) < counts.unsqueeze(1)
        head_labels = labels.gather(1, order).masked_fill(~head_mask, -100)
        self.masks = {"body": mask.to(torch.float32), "head": head_mask.to(torch.float32)}
        self.lengths = {"body": mask.sum(1).tolist(), "head": counts.tolist()}
        if self.decoder is not None:
            self.word_keys = self._lookup_keys(self.word, ids, mask)
            unique = self.word_keys[1]
            rows = self.word.weight.shape[0]
            self.key_sample, self.key_row = unique // rows, unique % rows
            self.key_decoder = torch.zeros(unique.shape[0], H)
            self.key_lookup = None
        hidden = self.model.bert(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
        gathered = hidden.gather(1, order.unsqueeze(-1).expand(B, P, H))
        logits = self.model.cls(gathered)
        losses = torch.nn.functional.cross_entropy(
            logits.reshape(B * P, -1), head_labels.reshape(-1), reduction="none").view(B, P)
        (losses.sum(1) / counts).sum().backward()
        if self.decoder is not None:
            D, E = self.key_decoder, self.key_lookup
            self.fisher[self.name_of[id(self.word.weight)]].index_add_(0, self.key_row, E * (2 * D + E))


def trimmed(sample):
    """The sample without trailing attention-masked positions; masked positions inside it are refused
    (the hooks take a sample's tokens as the prefix of its padded row)."""
    mask = sample["attention_mask"]
    length = sum(mask)
    if any(m != 1 for m in mask[:length]):
        raise SystemExit("hooks: attention_mask with zeros before its last 1 is not supported")
    return {k: v[:length] for k, v in sample.items()}


def pad_batches(samples, batch_size, pad_id, torch):
    for start in range(0, len(samples), batch_size):
        chunk = [trimmed(s) for s in samples[start:start + batch_size]]
        T = max(len(s["input_ids"]) for s in chunk)
        def tensor(key, fill):
            return torch.tensor([s[key] + [fill] * (T - len(s[key])) for s in chunk])
        yield (tensor("input_ids", pad_id), tensor("token_type_ids", 0),
               tensor("attention_mask", 0), tensor("labels", -100))


def fisher_hooks(model, samples, batch_size, torch):
    hooked = HookedFisher(model, torch)
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    for batch in pad_batches(samples, batch_size, pad_id, torch):
        hooked.batch(batch)
    return hooked.fisher


def run_method(args, method, torch, BertForMaskedLM):
    samples = load_samples(args.inputs)
    torch.manual_seed(0)  # a missing MLM head is initialised the same way in every process
    model = BertForMaskedLM.from_pretrained(args.model).eval()
    start = time.perf_counter()
    if method == "loop":
        fisher = fisher_loop(model, samples, torch)
    else:
        fisher = fisher_hooks(model, samples, args.batch_size, torch)
    seconds = time.perf_counter() - start
    means = {n: f / len(samples) for n, f in fisher.items()}
    result = {"method": method, "samples": len(samples), "seconds": seconds,
              "samples_per_s": len(samples) / seconds, "threads": torch.get_num_threads(),
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if method == "hooks":
        result["batch_size"] = args.batch_size
    if args.compare:
        from safetensors.torch import load_file
        worst, where = max_relative_difference(means, load_file(args.compare))
        result["max_relative_difference_vs_guided"] = worst
        result["worst_tensor"] = where
    if args.save:
        from safetensors.torch import save_file
        save_file({n: m.contiguous() for n, m in means.items()}, args.save)
    print(json.dumps(result), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="BertForMaskedLM checkpoint folder")
    p.add_argument("--inputs", required=True, help="masked samples as `guided fisher --dump-inputs` writes")
    p.add_argument("--method", action="append", choices=METHODS, help="repeatable; default: loop and hooks")
    p.add_argument("--batch-size", type=int, default=8, help="samples per batch for --method hooks")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--compare", help="guided's Fisher file: print the largest relative difference")
    p.add_argument("--save", help="write the Fisher (mean over samples) here as safetensors")
    args = p.parse_args()
    try:
        import torch
        from transformers import BertForMaskedLM
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch/transformers not installed ({error})"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = list(dict.fromkeys(args.method or METHODS))
    if len(methods) == 1:
        run_method(args, methods[0], torch, BertForMaskedLM)
        return 0
    # One child process per method: each reports its own peak RSS; then compare their Fisher files.
    from safetensors.torch import load_file
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for method in methods:
            files[method] = os.path.join(folder, f"{method}.safetensors")
            command = [sys.executable, os.path.abspath(__file__), "--model", args.model, "--inputs", args.inputs,
                       "--method", method, "--batch-size", str(args.batch_size), "--threads", str(args.threads),
                       "--save", files[method]] + (["--compare", args.compare] if args.compare else [])
            status = subprocess.run(command, stdout=sys.stdout).returncode
            if status != 0:
                return status
        if args.save:
            import shutil
            shutil.copyfile(files[methods[-1]], args.save)
        reference = load_file(files[methods[0]])
        for method in methods[1:]:
            worst, where = max_relative_difference(reference, load_file(files[method]))
            print(json.dumps({"compare": f"{method} vs {methods[0]}", "max_relative_difference": worst,
                              "worst_tensor": where}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
