#!/usr/bin/env python3
"""guided fisher against PyTorch's per-sample loop and hook method on the same inputs, in interleaved
rounds, with medians: the figures of the README's Fisher rows.

    guided fisher --model M --corpus C --dump-inputs inputs.jsonl --output /dev/null ...
    ~/tools-venv/bin/python tools/bench_fisher_rounds.py --model M --inputs inputs.jsonl [--rounds 5]

One round runs, back to back: guided on the CPU backend with the environment as it is; guided with
OPENBLAS_CORETYPE removed from the environment (OpenBLAS's own choice of kernels, AVX-512 on a CPU
that has it; skipped when the variable is not set); tools/bench_fisher_torch.py (the loop and the
hook method, each in its own process) as PyTorch comes; and, with --torch-avx2, PyTorch held to
AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2), to compare
like with like where guided's OpenBLAS is held to AVX2. Interleaving spreads the machine's drift
(±20% over an hour on a shared 2-vCPU VM) over every configuration; medians drop the outliers.

Times are of the estimation loop only, as each tool reports it (guided: its final progress line,
samples ÷ samples/s; PyTorch: the timed call, model loading excluded on both sides). guided counts
every input sample, PyTorch only those with a predicted token: the seconds are for the same work.
Prints one JSON line per run, then a summary: median seconds per configuration and the ratios
PyTorch seconds ÷ guided seconds.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def guided_seconds(args, environment):
    """Seconds of guided's estimation loop, from its last progress line."""
    command = [args.guided, "fisher", "--model", args.model, "--inputs", args.inputs, "--output", args.output,
               "--backend", "cpu", "--batch-size", str(args.batch_size)]
    run = subprocess.run(command, env=environment, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"guided failed: {run.stderr[-2000:]}")
    lines = re.findall(r"fisher: (\d+)/\d+ samples \([^)]*\), ([0-9.]+) samples/s", run.stderr)
    done, rate = lines[-1]
    kernels = re.search(r"OpenBLAS sgemm: (\S+) kernels", run.stderr)
    return int(done) / float(rate), kernels.group(1) if kernels else "?"


def torch_seconds(args, environment):
    """Seconds of PyTorch's loop and hook method, each from its own process."""
    command = [args.python, os.path.join(HERE, "bench_fisher_torch.py"), "--model", args.model, "--inputs",
               args.inputs, "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    run = subprocess.run(command, env=environment, capture_output=True, text=True)
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{\"method\"")]
    if run.returncode != 0 or len(results) != 2:
        sys.exit(f"bench_fisher_torch.py failed: {run.stderr[-2000:]}")
    return {r["method"]: r["seconds"] for r in results}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--guided", default=os.path.join(HERE, "..", ".build", "release", "guided"))
    parser.add_argument("--python", default=sys.executable, help="a Python with torch and transformers")
    parser.add_argument("--output", default="/tmp/guided-bench-fisher.safetensors")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--torch-avx2", action="store_true")
    args = parser.parse_args()

    base = dict(os.environ)
    configurations = [("guided", lambda: guided_seconds(args, base))]
    if "OPENBLAS_CORETYPE" in base:
        native = {k: v for k, v in base.items() if k != "OPENBLAS_CORETYPE"}
        configurations.append(("guided, OpenBLAS's own kernels", lambda: guided_seconds(args, native)))
    configurations.append(("torch", lambda: torch_seconds(args, base)))
    if args.torch_avx2:
        configurations.append(("torch AVX2", lambda: torch_seconds(args, {**base, **AVX2})))

    seconds = {}
    for round_index in range(args.rounds):
        for name, measure in configurations:
            result = measure()
            if isinstance(result, dict):
                for method, s in result.items():
                    seconds.setdefault(f"{name} {method}", []).append(s)
                print(json.dumps({"round": round_index, "configuration": name, **result}), flush=True)
            else:
                s, kernels = result
                seconds.setdefault(name, []).append(s)
                print(json.dumps({"round": round_index, "configuration": name, "seconds": s, "kernels": kernels}),
                      flush=True)

    medians = {name: statistics.median(values) for name, values in seconds.items()}
    ratios = {f"{t} / {g}": medians[t] / medians[g]
              for g in medians if g.startswith("guided") for t in medians if t.startswith("torch")}
    print(json.dumps({"rounds": args.rounds, "median_seconds": medians, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
