"""Serving throughput side by side: embedlab serve (torch, onnx-int8) against infinity-emb, same model.

Usage:
    .venv/bin/python benchmarks/serve_compare.py MODEL_DIR \
        [--infinity /opt/infinity-venv/bin/infinity_emb] [--clients 32] [--seconds 30] [--sizes 1,16]

MODEL_DIR is a sentence-transformers folder with `embedlab export onnx MODEL_DIR --int8` done. Each server
runs alone as its own process on 127.0.0.1 (started, warmed up, measured, stopped, one after the other),
and this process is the only client: CLIENTS concurrent keep-alive connections (aiohttp) each POST
SIZE STS-B test sentences per request to the OpenAI-style embeddings route, for SECONDS. Reported:
sentences/s, requests/s, latency p50/p99, errors — a markdown table and JSON in results/serve_compare.json.
infinity-emb lives in its own venv (it needs transformers 4): `python3 -m venv /opt/infinity-venv &&
/opt/infinity-venv/bin/pip install torch==2.13.0 "infinity-emb[server,torch]==0.0.78"`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from embedlab.data.sts import sentences as sts_sentences
from embedlab.hardware import machine_summary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(kind: str, model: Path, port: int, infinity: str) -> tuple[list[str], str, dict]:
    """The command, the embeddings path and the JSON body extras for one server kind."""
    if kind == "infinity":
        command = [
            infinity,
            "v2",
            "--model-id",
            str(model),
            "--engine",
            "torch",
            "--device",
            "cpu",
            "--no-compile",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ]
        return command, "/embeddings", {"model": str(model)}
    backend = kind.removeprefix("embedlab-")
    command = [
        str(Path(sys.executable).with_name("embedlab")),
        "serve",
        str(model),
        "--backend",
        backend,
        "--port",
        str(port),
    ]
    return command, "/v1/embeddings", {}


def wait_ready(url: str, process: subprocess.Popen, limit: float = 300) -> None:
    import urllib.request

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("server did not become ready")


async def load(url: str, path: str, extra: dict, texts: list[str], size: int, clients: int, seconds: float):
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(
        url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def client(offset: int) -> None:
            position = offset * 97
            while time.monotonic() < stop_at:
                batch = [texts[(position + i) % len(texts)] for i in range(size)]
                position += size
                started = time.perf_counter()
                try:
                    async with session.post(path, json={"input": batch, **extra}) as response:
                        await response.read()
                        if response.status == 200:
                            latencies.append(time.perf_counter() - started)
                        else:
                            errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                except (aiohttp.ClientError, TimeoutError) as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {
        "sentences_per_s": round(len(latencies) * size / elapsed, 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "errors": errors,
    }


def measure(kind: str, args, texts: list[str]) -> list[dict]:
    port = free_port()
    command, path, extra = server_command(kind, args.model, port, args.infinity)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_ready(url, process)
        for size in args.sizes:
            asyncio.run(load(url, path, extra, texts, size, args.clients, 3))  # warm-up
            result = asyncio.run(load(url, path, extra, texts, size, args.clients, args.seconds))
            rows.append({"server": kind, "sentences_per_request": size, **result})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path)
    parser.add_argument("--servers", default="infinity,embedlab-torch,embedlab-onnx-int8")
    parser.add_argument("--infinity", default="/opt/infinity-venv/bin/infinity_emb")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--sizes", default="1,16")
    parser.add_argument("--out", type=Path, default=Path("results/serve_compare.json"))
    args = parser.parse_args()
    args.model = args.model.resolve()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    texts = sts_sentences("stsb", "test")
    rows = [row for kind in args.servers.split(",") for row in measure(kind, args, texts)]

    by = {(r["server"], r["sentences_per_request"]): r for r in rows}
    servers = list(dict.fromkeys(r["server"] for r in rows))
    print(
        f"\n{machine_summary()}; {args.clients} clients, {args.seconds:g} s per cell; sentences/s (p99 ms)\n"
    )
    print("| server | " + " | ".join(f"{s} sentence(s)/request" for s in args.sizes) + " |")
    print("|---|" + "---|" * len(args.sizes))
    for server in servers:
        cells = [
            f"{by[server, s]['sentences_per_s']:,.0f} ({by[server, s]['p99_ms']:.0f})" for s in args.sizes
        ]
        print(f"| {server} | " + " | ".join(cells) + " |")
    if "infinity" in servers:
        for server in servers:
            if server != "infinity":
                ratios = [
                    by[server, s]["sentences_per_s"] / by["infinity", s]["sentences_per_s"]
                    for s in args.sizes
                ]
                print(f"{server} / infinity: " + ", ".join(f"{r:.2f}×" for r in ratios))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": machine_summary(), "clients": args.clients, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
