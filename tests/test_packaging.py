"""`pip install embedlab[serve,index]` is a torch-free service: build the wheel, install it into a fresh venv,
check no torch arrives, serve a real request with an exported model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str | Path, **options) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True, **options)


@pytest.mark.slow
def test_serve_and_index_extras_install_without_torch_and_serve(tiny_model_dir, tmp_path):
    from embedlab.runtime.encoder import OnnxEncoder
    from embedlab.runtime.export import export_onnx

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    export_onnx(model)

    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, ROOT)
    (wheel,) = wheels.glob("embedlab-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    pip = venv / "bin" / "pip"
    run(pip, "install", "--quiet", "--disable-pip-version-check", f"{wheel}[serve,index]")
    installed = run(pip, "list", "--format=freeze").stdout.lower()
    for heavy in ("torch==", "transformers==", "sentence-transformers==", "datasets=="):
        assert heavy not in installed, f"{heavy} came with embedlab[serve,index]"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [venv / "bin" / "embedlab", "serve", model, "--backend", "onnx", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read()  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the torch-free service did not start"
            time.sleep(0.3)
        body = httpx.post(f"http://127.0.0.1:{port}/v1/embeddings", json={"input": ["a dog runs"]}).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    expected = OnnxEncoder(model).encode(["a dog runs"])[0]
    expected /= np.linalg.norm(expected)
    assert np.allclose(body["data"][0]["embedding"], expected, atol=1e-5)


def test_the_torch_free_modules_import_without_torch_or_datasets():
    """What `embedlab[serve,index]` runs must not import the [train] extra's packages (a fast guard beside the
    wheel test above): the service, the index with its build sequence, the ONNX encoder, the CLI."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('datasets', 'torch', 'transformers', 'sentence_transformers'):\n"
        "            raise ImportError('the torch-free install has no ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import embedlab.cli, embedlab.index, embedlab.serve.connections, embedlab.runtime.encoder\n"
        "from embedlab.serve import ServeSettings, create_app\n"
        "create_app(ServeSettings())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
