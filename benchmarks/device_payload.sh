#!/usr/bin/env bash
# Prepare what the one-call device check (benchmarks/device_check.sh) carries, here, where PyPI answers:
# .device/wheels (the packages embedlab needs that the device's python lacks, at this venv's versions, for
# CPython 3.12), .device/sentences.txt (real STS-B sentences) and .device/tokenizer (MiniLM's). Under 64 MiB.
#
#   bash benchmarks/device_payload.sh        # then, in one device call: carry [".device"], command
#                                            # "bash benchmarks/device_check.sh"
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
dest=.device
mkdir -p "$dest/wheels"
# the device's image has torch, transformers, sentence-transformers, pyarrow, pandas, scipy, scikit-learn,
# typer, rich, httpx, pytest; not these (fastapi 0.165 imports opentelemetry-api and annotated-doc: without
# them the service's GPU tests failed on the device, 2026-12-04)
packages="pydantic pydantic-core pydantic-settings annotated-types typing-inspection python-dotenv fastapi
annotated-doc opentelemetry-api starlette uvicorn datasets dill multiprocess faiss-cpu filelock"
for name in $packages; do
  version=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
  ls "$dest/wheels" | grep -qi "^${name//-/_}-${version}-" && continue
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
    -d "$dest/wheels" "$name==$version"
done
"$PY" - "$dest" <<'PY'
import shutil, sys
from pathlib import Path

from embedlab.data.sts import sentences
from embedlab.models.registry import resolve

dest = Path(sys.argv[1])
texts = list(dict.fromkeys(sentences("stsb", "train") + sentences("stsb", "dev") + sentences("stsb", "test")))
(dest / "sentences.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
source, tokenizer = Path(resolve("all-MiniLM-L6-v2")), dest / "tokenizer"
tokenizer.mkdir(exist_ok=True)
for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
    if (source / name).is_file():
        shutil.copyfile(source / name, tokenizer / name)
print(f"{len(texts):,} sentences, tokenizer from {source}")
PY
du -sh "$dest"
