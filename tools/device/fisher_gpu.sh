#!/usr/bin/env bash
# On a lent GPU machine, from the repository root, with .device/ from tools/device/bundle.sh carried:
# guided's Fisher on the GPU (OpenCL backend) against PyTorch's loop and hook method on CUDA, on the
# same 488 masked samples of a MiniLM-shaped BertForMaskedLM. Everything it prints is also written
# to $OUT/fisher_gpu.log (or ./fisher_gpu.log without $OUT).
#
#     device run: carry [".device"], command "bash tools/device/fisher_gpu.sh", timeout_s 540
#
# The machine has no Swift: guided is the static build in .device/guided.tar.xz, with the OpenCL
# loader, CLBlast and OpenBLAS beside it. NVIDIA's driver provides libnvidia-opencl.so.1; where
# /etc/OpenCL/vendors names no ICD for it, this writes one (to a folder of its own when /etc is
# read-only, through OCL_ICD_VENDORS).
set -uo pipefail
cd "$(dirname "$0")/../.."
LOG=${OUT:-.}/fisher_gpu.log
exec > >(tee "$LOG") 2>&1
G=/tmp/guided-device
BATCH=${BATCH:-32}
INPUTS=${INPUTS:-.device/minilm.jsonl}    # overridable, with TORCH_DEVICE, for a dry run on a CPU
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
TIME=""
[ -x /usr/bin/time ] && TIME="/usr/bin/time -f peak_RSS_%M_KB"
mkdir -p "$G"
python3 -c "import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])" \
    .device/guided.tar.xz "$G" || exit 1
export LD_LIBRARY_PATH="$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== OpenCL ICD"
ls -l /etc/OpenCL/vendors 2>&1
nvidia_cl=$(ldconfig -p | grep -o '/[^ ]*libnvidia-opencl\.so\.1$' | head -1)
[ -n "$nvidia_cl" ] || nvidia_cl=$(find / -name 'libnvidia-opencl.so.1' -not -path '/proc/*' 2>/dev/null | head -1)
echo "libnvidia-opencl.so.1: ${nvidia_cl:-not found}"
if [ -n "$nvidia_cl" ] && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
    if mkdir -p /etc/OpenCL/vendors 2>/dev/null && echo "$nvidia_cl" > /etc/OpenCL/vendors/nvidia.icd 2>/dev/null; then
        echo "wrote /etc/OpenCL/vendors/nvidia.icd"
    else
        mkdir -p "$G/vendors" && echo "$nvidia_cl" > "$G/vendors/nvidia.icd"
        export OCL_ICD_VENDORS="$G/vendors"
        echo "OCL_ICD_VENDORS=$OCL_ICD_VENDORS"
    fi
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
"$G/guided" devices || exit 1

echo "== MiniLM-shaped BertForMaskedLM, random weights (seed 0), MiniLM's config and vocabulary"
python3 - "$G/minilm" <<'PYTHON' || exit 1
import shutil, sys, torch, transformers
out = sys.argv[1]
torch.manual_seed(0)
config = transformers.BertConfig.from_pretrained(".device/minilm")
transformers.BertForMaskedLM(config).save_pretrained(out)
shutil.copy(".device/minilm/vocab.txt", out)
print(out, sum(p.numel() for p in transformers.BertForMaskedLM(config).parameters()), "parameters")
PYTHON

echo "== guided fisher, OpenCL backend (the GPU), batch $BATCH: twice, the first compiles CLBlast's kernels"
for run in 1 2; do
    $TIME "$G/guided" fisher --model "$G/minilm" --inputs "$INPUTS" \
        --output "$G/guided.safetensors" --backend opencl --batch-size "$BATCH" 2>&1 | grep -E "device|fisher: .*100|wrote|peak_RSS|rror"
done
echo "== guided fisher, batch 1 (the paper's method, on the same device)"
"$G/guided" fisher --model "$G/minilm" --inputs "$INPUTS" --output "$G/guided-1.safetensors" \
    --backend opencl --batch-size 1 2>&1 | grep -E "fisher: .*100|rror"

echo "== PyTorch on $TORCH_DEVICE: the loop and the hook method (batch $BATCH), agreement with guided"
python3 tools/bench_fisher_torch.py --model "$G/minilm" --inputs "$INPUTS" --device "$TORCH_DEVICE" \
    --batch-size "$BATCH" --compare "$G/guided.safetensors" 2>&1 | grep '^{'

echo "== guided bench --fisher (8×128 full samples), OpenCL"
"$G/guided" bench --fisher --shapes minilm --repeats 3 --backend opencl 2>&1 | tail -3
