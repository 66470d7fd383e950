#!/usr/bin/env python3
"""PyTorch reference for `guided fisher`: the same Fisher from the same masked inputs, timed.

    guided fisher --model M --corpus C --max-samples 64 --dump-inputs inputs.jsonl --output g.safetensors
    ~/tools-venv/bin/python tools/bench_fisher_torch.py --model M --inputs inputs.jsonl \
        --compare g.safetensors [--method loop] [--method hooks] [--batch-size 8] [--threads 2]
    ~/tools-venv/bin/python tools/bench_fisher_torch.py --shape gpt2-small --inputs inputs.jsonl [...]
    ~/tools-venv/bin/python tools/bench_fisher_torch.py --self-check    # hooks == loop, tiny models

The model is chosen by M's config.json: model_type gpt2 loads GPT2LMHeadModel, anything else
BertForMaskedLM. The same commands serve GPT-2 (e.g. M = a GPT-2 small checkpoint and a causal
dump from `guided fisher`). --shape S instead of --model takes random weights (seed 0) in one of
bench_torch.py's shapes: minilm, bert-base (BertForMaskedLM), gpt2-tiny-6l, gpt2-small
(GPT2LMHeadModel, vocab 50257). The inputs are one JSON object per line, {"input_ids", "attention_mask"
(optional, all 1 when absent), "token_type_ids" (optional, BERT only: zeros when absent, never passed
to GPT-2), "labels" (-100 where nothing is predicted)}. A causal sample's labels are its input_ids
with labels[0] = -100, as transformers expects (it shifts them).

Method (exact: the mean over samples of the squared per-sample gradient of the sample's mean loss
over its own predicted tokens, the model in eval mode). BERT: transformers' BertForMaskedLM MLM loss.
GPT-2: next-token cross-entropy with transformers' shift (logits[:, :-1] against labels[:, 1:]); a
sample's predicted tokens are the positions whose shifted label is not -100.
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
           Conv1D        (GPT-2: weight [in, out], y = x W + b) G_n = X_n^T dY_n, the same way
         The LM head (BERT's `cls`, GPT-2's `lm_head`) runs only on each sample's predicted positions
         (gathered, exact: the other positions have no loss). The decoder weight is tied to the word
         embeddings (BERT's decoder and word_embeddings, GPT-2's lm_head and transformer.wte), so a
         sample's gradient of that tensor is D_n (decoder, dense) + E_n (its lookups, sparse),
         squared together: the decoder hook adds D_n^2 and keeps D_n at the rows sample n looked up;
         after the backward, those rows get E_n*(2 D_n + E_n). BERT's decoder bias is
         `cls.predictions.bias`; GPT-2's lm_head has none. GPT-2's position embeddings (wpe) get
         their rows by position like BERT's. Padding positions are left out (Linear, Conv1D) or
         zeroed by the attention mask (LayerNorm, Embedding) before anything is summed; a sample's
         attention_mask must be ones then zeros (GPT-2 is causal, so right padding never reaches
         a real token).
(torch.func.vmap over transformers' BERT fails on data-dependent control flow in its attention
mask handling, hence hooks.)

--self-check builds a tiny random GPT-2 (2 layers, n_embd 32, vocab 300) and a tiny random BERT, runs
both methods on a few samples of different lengths (batches padded) in float32 and float64, prints
the largest absolute and relative differences of the Fisher as JSON lines, and exits 1 when hooks and
loop differ by more than float rounding.

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import SHAPES  # noqa: E402  (the --shape sizes; stdlib-only module)

METHODS = ["loop", "hooks"]
PREFIXES = ("bert.", "transformer.")


def max_relative_difference(reference, other):
    """Largest |other - reference| per tensor, relative to the reference tensor's largest |value|,
    floored at 1e-6 of the global largest (the attention key bias has a Fisher of exactly 0 in exact
    arithmetic, and rounding noise elsewhere). Tensor names match with or without `bert.` (BERT) or
    `transformer.` (GPT-2)."""
    floor = 1e-6 * max(m.abs().max().item() for m in reference.values())
    worst, where = 0.0, ""
    for n, ref in reference.items():
        key = n
        if n not in other:
            key = next((n[len(p):] for p in PREFIXES if n.startswith(p)), n)
        scale = max(ref.abs().max().item(), floor)
        d = (other[key] - ref).abs().max().item() / scale
        if d > worst:
            worst, where = d, n
    return worst, where


def is_causal(model):
    return model.config.model_type == "gpt2"


def targets(labels, causal):
    """Each position's predicted token: the labels themselves (MLM), or the next position's label
    (causal LM, transformers' shift; the last position predicts nothing). Lists or [B, T] tensors."""
    if not causal:
        return labels
    if isinstance(labels, list):
        return labels[1:] + [-100]
    shifted = labels.new_full(labels.shape, -100)
    shifted[:, :-1] = labels[:, 1:]
    return shifted


def normalized(sample):
    """A dumped sample with its optional fields filled: attention_mask ones, token_type_ids zeros."""
    n = len(sample["input_ids"])
    return {"input_ids": sample["input_ids"], "attention_mask": sample.get("attention_mask") or [1] * n,
            "token_type_ids": sample.get("token_type_ids") or [0] * n, "labels": sample["labels"]}


def load_samples(path, causal):
    """The samples that predict at least one token."""
    samples = [normalized(json.loads(line)) for line in open(path) if line.strip()]
    return [s for s in samples if any(l != -100 for l in targets(s["labels"], causal))]


def fisher_loop(model, samples, torch):
    """Sum over samples of squared per-sample gradients, one forward/backward per sample."""
    params = dict(model.named_parameters())
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    causal = is_causal(model)
    for s in samples:
        model.zero_grad(set_to_none=True)
        t = lambda k: torch.tensor([s[k]])
        if causal:
            # transformers' causal-LM loss (shift, mean over the predicted tokens), written out
            # because transformers computes it in float32 whatever the model's dtype.
            logits = model(input_ids=t("input_ids"), attention_mask=t("attention_mask")).logits
            loss = torch.nn.functional.cross_entropy(logits[0, :-1], t("labels")[0, 1:], ignore_index=-100)
        else:
            loss = model(input_ids=t("input_ids"), token_type_ids=t("token_type_ids"),
                         attention_mask=t("attention_mask"), labels=t("labels")).loss
        loss.backward()
        for n, p in params.items():
            if p.grad is not None:
                fisher[n] += p.grad ** 2
    return fisher


class HookedFisher:
    """Batched exact per-sample squared gradients of BertForMaskedLM or GPT2LMHeadModel from module
    hooks."""

    def __init__(self, model, torch):
        import torch.nn as nn
        from transformers.pytorch_utils import Conv1D
        self.torch, self.model = torch, model
        self.causal = is_causal(model)
        self.params = dict(model.named_parameters())  # tied parameters appear once
        self.name_of = {id(p): n for n, p in self.params.items()}
        self.fisher = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.dtype = next(iter(self.params.values())).dtype
        self.word = model.get_input_embeddings()
        decoder = model.get_output_embeddings()
        self.decoder = decoder if decoder is not None and decoder.weight is self.word.weight else None
        self.masks, self.lengths, self.buffers = {}, {}, {}
        head = "lm_head" if self.causal else "cls"
        covered = set()
        for name, module in model.named_modules():
            region = "head" if name == head or name.startswith(head + ".") else "body"
            if isinstance(module, (nn.Linear, Conv1D, nn.LayerNorm, nn.Embedding)):
                module.register_forward_hook(self._forward_hook(region))
                covered.update(id(p) for p in module.parameters(recurse=False))
        missing = [n for n, p in self.params.items() if id(p) not in covered]
        if missing:
            raise SystemExit(f"hooks: parameters outside Linear/Conv1D/LayerNorm/Embedding: {missing}")
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
        """nn.Linear (weight [out, in]: G_n = dY_n^T X_n) and GPT-2's Conv1D (weight [in, out]:
        G_n = X_n^T dY_n)."""
        torch = self.torch
        lengths = self.lengths[region]
        weight = self.fisher[self.name_of[id(module.weight)]]
        bias = self.fisher[self.name_of[id(module.bias)]] if module.bias is not None else None
        G = self.buffer(module.weight.shape)
        tied = module is self.decoder
        transposed = not isinstance(module, torch.nn.Linear)  # Conv1D
        for n, length in enumerate(lengths):
            # Sample n's gradient from its own tokens only (padding is at the end, so a slice).
            g_n, x_n = g[n, :length], x[n, :length]
            if transposed:
                torch.mm(x_n.t(), g_n, out=G)
            else:
                torch.mm(g_n.t(), x_n, out=G)
            if tied:
                at = self.key_sample == n
                self.key_decoder[at] = G[self.key_row[at]]
            weight.addcmul_(G, G)
            if bias is not None:
                b_n = g_n.sum(0)
                bias.addcmul_(b_n, b_n)

    def buffer(self, shape):
        """One reused buffer per shape for the per-sample gradient of a Linear/Conv1D weight."""
        if shape not in self.buffers:
            self.buffers[shape] = self.torch.empty(shape, dtype=self.dtype)
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
        ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
        B, T = ids.shape
        H = self.word.weight.shape[1]
        labels = targets(labels, self.causal)  # each position's own predicted token
        predicted = labels != -100
        counts = predicted.sum(1)
        P = int(counts.max())
        # Predicted positions first (stable), so [:, :P] holds each sample's predicted tokens.
        order = torch.argsort((~predicted).to(torch.int8), dim=1, stable=True)[:, :P]
        head_mask = torch.arange(P).unsqueeze(0) < counts.unsqueeze(1)
        head_labels = labels.gather(1, order).masked_fill(~head_mask, -100)
        self.masks = {"body": mask.to(self.dtype), "head": head_mask.to(self.dtype)}
        self.lengths = {"body": mask.sum(1).tolist(), "head": counts.tolist()}
        if self.decoder is not None:
            self.word_keys = self._lookup_keys(self.word, ids, mask)
            unique = self.word_keys[1]
            rows = self.word.weight.shape[0]
            self.key_sample, self.key_row = unique // rows, unique % rows
            self.key_decoder = torch.zeros(unique.shape[0], H, dtype=self.dtype)
            self.key_lookup = None
        if self.causal:  # never token_type_ids: GPT-2 would look them up in wte
            hidden = self.model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
            head = self.model.lm_head
        else:
            hidden = self.model.bert(input_ids=ids, token_type_ids=batch["token_type_ids"],
                                     attention_mask=mask).last_hidden_state
            head = self.model.cls
        gathered = hidden.gather(1, order.unsqueeze(-1).expand(B, P, H))
        logits = head(gathered)
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
        yield {"input_ids": tensor("input_ids", pad_id), "token_type_ids": tensor("token_type_ids", 0),
               "attention_mask": tensor("attention_mask", 0), "labels": tensor("labels", -100)}


def fisher_hooks(model, samples, batch_size, torch):
    hooked = HookedFisher(model, torch)
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    for batch in pad_batches(samples, batch_size, pad_id, torch):
        hooked.batch(batch)
    return hooked.fisher


def load_model(args, torch):
    """GPT2LMHeadModel when the model_type is gpt2, BertForMaskedLM otherwise; eval mode. From the
    --model checkpoint, or with random weights (seed 0) in one of bench_torch.py's --shape sizes."""
    import transformers
    torch.manual_seed(0)  # a missing LM head (or a --shape model) is the same in every process
    if args.shape:
        family, sizes = SHAPES[args.shape]
        if family == "gpt2":
            return transformers.GPT2LMHeadModel(transformers.GPT2Config(**sizes)).eval()
        return transformers.BertForMaskedLM(transformers.BertConfig(**sizes)).eval()
    config = transformers.AutoConfig.from_pretrained(args.model)
    kind = transformers.GPT2LMHeadModel if config.model_type == "gpt2" else transformers.BertForMaskedLM
    return kind.from_pretrained(args.model).eval()


def fisher_of(method, model, samples, batch_size, torch):
    if method == "loop":
        return fisher_loop(model, samples, torch)
    return fisher_hooks(model, samples, batch_size, torch)


def run_method(args, method, torch):
    # Every tensor the methods make (inputs, buffers, sums) lands on --device.
    torch.set_default_device(args.device)
    model = load_model(args, torch).to(args.device)
    samples = load_samples(args.inputs, is_causal(model))
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    fisher = fisher_of(method, model, samples, args.batch_size, torch)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    means = {n: (f / len(samples)).cpu() for n, f in fisher.items()}
    result = {"method": method, "model_type": model.config.model_type, "samples": len(samples),
              "seconds": seconds, "samples_per_s": len(samples) / seconds, "threads": torch.get_num_threads(),
              "device": args.device, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if cuda:
        result["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2**20
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


def self_check_samples(vocab, causal, generator, torch):
    """Samples of different lengths; some with trailing padding, some without token_type_ids."""
    samples = []
    for k, length in enumerate([7, 12, 3, 9, 16, 5, 11]):
        ids = torch.randint(5, vocab, (length,), generator=generator).tolist()
        pad = 3 if k % 3 == 1 else 0
        sample = {"input_ids": ids + [0] * pad, "attention_mask": [1] * length + [0] * pad}
        if causal:
            sample["labels"] = [-100] + ids[1:] + [-100] * pad
        else:
            labels = [-100] * (length + pad)
            for t in range(k % 2, length, 3):
                labels[t] = ids[t]
            sample["labels"] = labels
            if k % 2:
                sample["token_type_ids"] = [0] * (length // 2) + [1] * (length - length // 2) + [0] * pad
        samples.append(normalized(sample))
    return samples


def self_check(torch):
    """hooks == loop on tiny random models; returns the exit status."""
    import transformers
    tiny = {
        "gpt2": transformers.GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                        activation_function="gelu_new", bos_token_id=299, eos_token_id=299),
        "bert": transformers.BertConfig(vocab_size=300, max_position_embeddings=64, hidden_size=32,
                                        num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                        type_vocab_size=2),
    }
    tolerance = {torch.float32: 1e-4, torch.float64: 1e-10}
    status = 0
    for family, config in tiny.items():
        causal = family == "gpt2"
        kind = transformers.GPT2LMHeadModel if causal else transformers.BertForMaskedLM
        for dtype in (torch.float32, torch.float64):
            torch.manual_seed(0)
            generator = torch.Generator().manual_seed(1)
            samples = self_check_samples(config.vocab_size, causal, generator, torch)
            model = kind(config).to(dtype).eval()
            if causal and dtype == torch.float32:
                # The loop's written-out loss is transformers' own.
                s = samples[1]
                t = lambda k: torch.tensor([s[k]])
                ours = torch.nn.functional.cross_entropy(
                    model(input_ids=t("input_ids"), attention_mask=t("attention_mask")).logits[0, :-1],
                    t("labels")[0, 1:], ignore_index=-100)
                theirs = model(input_ids=t("input_ids"), attention_mask=t("attention_mask"), labels=t("labels")).loss
                assert torch.allclose(ours, theirs, rtol=1e-6, atol=0), (ours.item(), theirs.item())
            loop = fisher_loop(model, samples, torch)
            hooks = fisher_hooks(model, samples, 3, torch)
            assert loop.keys() == hooks.keys()
            worst_abs = max((hooks[n] - loop[n]).abs().max().item() for n in loop)
            worst_rel, where = max_relative_difference(loop, hooks)
            largest = max(f.abs().max().item() for f in loop.values())
            ok = worst_rel <= tolerance[dtype]
            status |= 0 if ok else 1
            print(json.dumps({"self_check": family, "dtype": str(dtype).replace("torch.", ""),
                              "samples": len(samples), "batch_size": 3, "tensors": len(loop),
                              "max_abs_difference": worst_abs, "largest_fisher_value": largest,
                              "max_relative_difference": worst_rel, "worst_tensor": where,
                              "ok": ok}), flush=True)
    return status


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="BertForMaskedLM or GPT-2 checkpoint folder (by config.json's model_type)")
    p.add_argument("--shape", choices=list(SHAPES), help="instead of --model: random weights in a bench_torch.py shape "
                                   "(minilm, bert-base: BertForMaskedLM; gpt2-tiny-6l, gpt2-small: GPT2LMHeadModel)")
    p.add_argument("--inputs", help="masked or causal samples as `guided fisher --dump-inputs` writes")
    p.add_argument("--method", action="append", choices=METHODS, help="repeatable; default: loop and hooks")
    p.add_argument("--batch-size", type=int, default=8, help="samples per batch for --method hooks")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, or cuda on a machine with an NVIDIA GPU")
    p.add_argument("--compare", help="guided's Fisher file: print the largest relative difference")
    p.add_argument("--save", help="write the Fisher (mean over samples) here as safetensors")
    p.add_argument("--self-check", action="store_true",
                   help="check hooks against loop on tiny random GPT-2 and BERT models, then exit")
    args = p.parse_args()
    if not args.self_check and ((args.model is None) == (args.shape is None) or args.inputs is None):
        p.error("--inputs and one of --model or --shape are required (or --self-check)")
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch/transformers not installed ({error})"}))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.self_check:
        return self_check(torch)
    methods = list(dict.fromkeys(args.method or METHODS))
    if len(methods) == 1:
        run_method(args, methods[0], torch)
        return 0
    # One child process per method: each reports its own peak RSS; then compare their Fisher files.
    from safetensors.torch import load_file
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for method in methods:
            files[method] = os.path.join(folder, f"{method}.safetensors")
            source = ["--model", args.model] if args.model else ["--shape", args.shape]
            command = [sys.executable, os.path.abspath(__file__), *source, "--inputs", args.inputs,
                       "--method", method, "--batch-size", str(args.batch_size), "--threads", str(args.threads),
                       "--device", args.device, "--save", files[method]] + (["--compare", args.compare] if args.compare else [])
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
