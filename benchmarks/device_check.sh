#!/usr/bin/env bash
# The one-call device check (issue 35): under 8 minutes on one GPU, carrying .device/ (made here by
# benchmarks/device_payload.sh, under 64 MiB). Writes into $OUT:
#   gpu.txt         the GPU, its memory and driver
#   encode.json     embedlab's pipelined encode vs sentence-transformers' encode, random-weight MiniLM-L6 and
#                   MPNet-base, fp32 / bf16 / fp16, sentences per second and cosine to ST fp32
#   train_step.json a CoSENT + AdamW training step's speed, fp32 and bf16 autocast
#   gpu_tests.log   the gpu-marked tests: --device cuda on eval, index build, serve and dedup gives the CPU's
#                   vectors within tolerance
# Each part has its own time limit, so one that hangs leaves the others' figures. Runs on a CPU too.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
PY=${PY:-python3}
# the device's python lacks these; a machine that has them (a CPU run of this script) installs nothing
if ! "$PY" -c "import pydantic_settings, fastapi, uvicorn, datasets, faiss" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .device/wheels/*.whl || { echo "wheels did not install (run benchmarks/device_payload.sh first)"; exit 1; }
  export PYTHONPATH=/tmp/site
fi
# the libraries' own bars ("Loading weights", "Writing model shards") are noise in the device's output tail
export HF_HUB_DISABLE_PROGRESS_BARS=1 HF_DATASETS_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error
export PYTHONPATH=$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
SENTENCES=${SENTENCES:-.device/sentences.txt}
TOKENIZER=${TOKENIZER:-.device/tokenizer}
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no GPU") > "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
echo "== encode"
timeout "${ENCODE_S:-240}" "$PY" benchmarks/gpu_encode_check.py --sentences "$SENTENCES" --tokenizer "$TOKENIZER" \
  --limit "${LIMIT:-20000}" --out "$OUT/encode.json" ${ENCODE_ARGS:-} 2>&1 | grep -v Warning | tail -12
echo "== training step"
timeout "${TRAIN_S:-120}" "$PY" benchmarks/train_step_check.py --sentences "$SENTENCES" --tokenizer "$TOKENIZER" \
  --out "$OUT/train_step.json" ${TRAIN_ARGS:-} 2>&1 | grep -v Warning | tail -6
echo "== gpu-marked tests"
timeout "${TESTS_S:-120}" "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu_parity.py 2>&1 \
  | tee "$OUT/gpu_tests.log" | tail -8
echo "== done: $(ls "$OUT" | tr '\n' ' ')"
