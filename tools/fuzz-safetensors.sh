#!/usr/bin/env bash
# Fuzzes the safetensors reader with libFuzzer and AddressSanitizer.
#
#   tools/fuzz-safetensors.sh [SECONDS]     (default 60)
#
# Compiles tools/fuzz/SafeTensorsFuzz.swift with Sources/GuidedModel/SafeTensors/*.swift and
# Sources/GuidedModel/ModelError.swift (swiftc -sanitize=fuzzer,address) into .build-fuzz/,
# seeds .build-fuzz/corpus with small valid files (kept and grown across runs), fuzzes for
# SECONDS, then prints the number of executions and whether anything crashed. Exits 1 on a
# finding; the reproducer is in .build-fuzz/artifacts/ (replay it with
# `.build-fuzz/safetensors-fuzz FILE`). Needs a Swift toolchain with libFuzzer (Linux) and python3.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/.build-fuzz"
binary="$build/safetensors-fuzz"
corpus="$build/corpus"
artifacts="$build/artifacts"
mkdir -p "$build" "$corpus" "$artifacts"

echo "building $binary" >&2
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SafeTensorsFuzz \
        "$root/tools/fuzz/SafeTensorsFuzz.swift" \
        "$root"/Sources/GuidedModel/SafeTensors/*.swift \
        "$root/Sources/GuidedModel/ModelError.swift" \
        -o "$binary" > "$build/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$build/build.log" >&2 || true
    echo "build failed" >&2
    exit 1
fi

# Seeds: small valid files in the reference layout (compact JSON header padded with spaces to a
# multiple of 8), covering every dtype, metadata, scalars, zero-size tensors and unaligned data.
python3 - "$corpus" <<'PY'
import json, os, struct, sys
import numpy as np

out = sys.argv[1]

def write(name, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for tname, dtype, array in tensors:
        raw = array.tobytes()
        header[tname] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

rng = np.random.default_rng(0)
f16 = np.array([1.0, -2.0, 65504.0, 6e-8, np.inf, np.nan], dtype="<f2")
bf16 = np.array([0x3F80, 0xC000, 0x7F80, 0x7FC0, 0x0001], dtype="<u2")
write("seed-f32.safetensors", [("bert.encoder.layer.0.attention.self.query.weight", "F32",
                                 rng.standard_normal((3, 4)).astype("<f4"))], {"format": "pt"})
write("seed-mixed.safetensors", [
    ("embeddings.position_ids", "I64", np.arange(5, dtype="<i8").reshape(1, 5)),
    ("half", "F16", f16),
    ("brain", "BF16", bf16),
    ("double", "F64", np.array([0.1, -1e300], dtype="<f8")),
    ("scalar", "F32", np.array(3.5, dtype="<f4")),
    ("empty", "F32", np.zeros((0, 3), dtype="<f4")),
    ("mask", "BOOL", np.array([0, 1], dtype="u1")),
], {"format": "pt", "samples": "12"})
write("seed-ints.safetensors", [
    ("b", "U8", np.array([1, 2, 255], dtype="u1")),          # 3 bytes: what follows is unaligned
    ("i8", "I8", np.array([-128], dtype="i1")),
    ("i16", "I16", np.array([-300, 7], dtype="<i2")),
    ("i32", "I32", np.array([-5], dtype="<i4")),
    ("u16", "U16", np.array([65535], dtype="<u2")),
    ("u32", "U32", np.array([4000000000], dtype="<u4")),
    ("u64", "U64", np.array([2**63 + 1], dtype="<u8")),
    ("e4m3", "F8_E4M3", np.array([0x38, 0x7F], dtype="u1")),
    ("e5m2", "F8_E5M2", np.array([0x3C, 0x7C], dtype="u1")),
    ("after", "F32", np.array([1.25], dtype="<f4")),
])
write("seed-empty.safetensors", [])
PY

dictionary="$build/safetensors.dict"
{
    for token in '"dtype"' '"shape"' '"data_offsets"' '"__metadata__"' '"format"' '"pt"' \
        '"F64"' '"F32"' '"F16"' '"BF16"' '"I64"' '"I32"' '"I16"' '"I8"' '"U8"' '"BOOL"' \
        '"U64"' '"U32"' '"U16"' '"F8_E4M3"' '"F8_E5M2"' '[]' '[0,0]' '{}' 'null' 'true' \
        '-1' '1e400' '18446744073709551616' '9223372036854775807' '\u0000' '\ud800'; do
        printf '"%s"\n' "$(printf '%s' "$token" | sed 's/\\/\\\\/g; s/"/\\"/g')"
    done
} > "$dictionary"

log="$build/fuzz.log"
echo "fuzzing for ${seconds}s (log: $log)" >&2
status=0
timeout --kill-after=30 "$((seconds + 120))" "$binary" "$corpus" \
    -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -dict="$dictionary" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    > "$log" 2>&1 || status=$?

executions="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)"
if [ -z "$executions" ]; then
    executions="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)"
fi
coverage="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)"
corpus_size="$(find "$corpus" -type f | wc -l | tr -d ' ')"
findings="$(grep -E 'ERROR: (libFuzzer|AddressSanitizer)|deadly signal|Fatal error|fuzz property failed' "$log" | head -5 || true)"

echo "executions: ${executions:-unknown}"
echo "coverage:   ${coverage:-unknown}, corpus: $corpus_size files"
if [ "$status" -ne 0 ] || [ -n "$findings" ]; then
    echo "FOUND A CRASH (libFuzzer exit status $status):"
    [ -n "$findings" ] && echo "$findings"
    grep -E "^artifact_prefix|Test unit written to" "$log" || true
    exit 1
fi
echo "no crash found"
