#!/usr/bin/env bash
# Schemathesis against the service's own OpenAPI schema, on 127.0.0.1 only; reports server errors.
# Usage: benchmarks/fuzz.sh MODEL_DIR [BACKEND]      (needs `pip install schemathesis`; a few minutes)
set -uo pipefail
model=${1:?model folder}; backend=${2:-onnx-int8}; port=${PORT:-8811}
.venv/bin/embedlab serve "$model" --backend "$backend" --port "$port" > /tmp/embedlab-fuzz-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/ready" > /dev/null && break; sleep 1; done
.venv/bin/schemathesis run "http://127.0.0.1:$port/openapi.json" --checks all --max-examples "${EXAMPLES:-100}" \
  --workers 1
