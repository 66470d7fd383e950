#!/usr/bin/env bash
# Packs what a lent GPU machine (the workplace's `device` tool: no Swift, no internet) needs to time
# `guided fisher` on its GPU against PyTorch there, into .device/ (git-ignored; carry it):
#
#     tools/bench_against_torch.sh          # once: makes WORK_DIR's MiniLM and its masked samples
#     tools/device/bundle.sh [WORK_DIR]     # then: device run, carry [".device"],
#                                           #   command "bash tools/device/fisher_gpu.sh"
#
# .device/guided.tar.xz holds guided built with the Swift runtime linked in and stripped, its
# kernel sources, and the shared libraries it loads that a bare machine may lack, unpacked from
# this machine's Debian packages: the OpenCL ICD loader, CLBlast, OpenBLAS (and its Fortran
# runtime). The weights do not travel (90 MB): fisher_gpu.sh draws random ones in MiniLM's shape
# there, which time the same; MiniLM's config.json and vocab.txt and WORK_DIR's 488 masked samples
# (4× the 44 of the CPU rows) do.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-/tmp/guided-bench}
OUT=.device
for f in "$W/minilm-mlm/config.json" "$W/minilm-mlm/vocab.txt" "$W/minilm4.jsonl"; do
    [ -f "$f" ] || { echo "missing $f: run tools/bench_against_torch.sh first" >&2; exit 1; }
done

swift build -c release --static-swift-stdlib --product guided
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp .build/release/guided "$stage/"
strip "$stage/guided"
cp -r .build/release/guided_GuidedKernels.resources "$stage/"
mkdir -p "$stage/lib" "$stage/debs"
(cd "$stage/debs" && apt-get download ocl-icd-libopencl1 libclblast1 libopenblas0-pthread libgfortran5 libquadmath0 >/dev/null)
for deb in "$stage"/debs/*.deb; do dpkg -x "$deb" "$stage/root"; done
# Every library the binary loads, from those packages (OpenBLAS sits in its alternatives folder).
for name in libOpenCL.so.1 libclblast.so.1 libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
    found=$(find "$stage/root" -name "$name" | head -1)
    [ -n "$found" ] || { echo "no $name in the unpacked packages" >&2; exit 1; }
    cp -L "$found" "$stage/lib/$name"
done

rm -rf "$OUT"
mkdir -p "$OUT/minilm"
tar -cJf "$OUT/guided.tar.xz" -C "$stage" guided guided_GuidedKernels.resources lib
cp "$W/minilm-mlm/config.json" "$W/minilm-mlm/vocab.txt" "$OUT/minilm/"
cp "$W/minilm4.jsonl" "$OUT/minilm.jsonl"
du -sh "$OUT"/*
