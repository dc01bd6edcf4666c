"""The service under overload: does it shed load fast, keep accepted latency under the deadline, recover at
once, and stop in bounded time with a backlog?

Usage:
    .venv/bin/python benchmarks/overload.py MODEL_DIR [--backend onnx-int8] [--clients 200] [--texts 64]
        [--seconds 60]

Starts `embedlab serve MODEL_DIR` (default settings: queue of 1,024 texts, 10 s deadline) as its own process,
then CLIENTS concurrent clients each POST TEXTS STS-B sentences to /v1/embeddings for SECONDS; a client that
is refused (503) or timed out (504) waits 50 ms and sends again. Reports accepted / refused / timed-out
counts and latencies, then the latency of one probe request right after the load stops, then repeats the
load for a few seconds, sends SIGTERM in the middle of it and reports how long the server takes to exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from serve_compare import free_port, server_command, wait_ready

from embedlab.data.sts import sentences as sts_sentences
from embedlab.hardware import machine_summary


def quantiles(values: list[float]) -> dict:
    if len(values) < 2:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    cuts = statistics.quantiles(values, n=100)
    return {
        "p50_ms": round(cuts[49] * 1000),
        "p99_ms": round(cuts[98] * 1000),
        "max_ms": round(max(values) * 1000),
    }


async def overload(url: str, texts: list[str], clients: int, size: int, seconds: float) -> dict:
    outcome: dict[str, list[float]] = {}
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def client(offset: int) -> None:
            position = offset * 131
            while time.monotonic() < stop_at:
                batch = [texts[(position + i) % len(texts)] for i in range(size)]
                position += size
                started = time.perf_counter()
                try:
                    async with session.post("/v1/embeddings", json={"input": batch}) as response:
                        await response.read()
                        status = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as error:
                    status = type(error).__name__
                outcome.setdefault(status, []).append(time.perf_counter() - started)
                if status != "200":
                    await asyncio.sleep(0.05)

        began = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - began
    accepted = outcome.get("200", [])
    return {
        "seconds": round(elapsed, 1),
        "accepted": len(accepted),
        "accepted_texts_per_s": round(len(accepted) * size / elapsed, 1),
        "accepted_latency": quantiles(accepted),
        "refused_503": len(outcome.get("503", [])),
        "refused_latency": quantiles(outcome.get("503", [])),
        "timed_out_504": len(outcome.get("504", [])),
        "other": {k: len(v) for k, v in outcome.items() if k not in ("200", "503", "504")},
    }


async def probe(url: str) -> float:
    async with aiohttp.ClientSession(url) as session:
        started = time.perf_counter()
        async with session.post(
            "/v1/embeddings", json={"input": "a probe right after the storm"}
        ) as response:
            await response.read()
            assert response.status == 200, response.status
        return round((time.perf_counter() - started) * 1000, 1)


def start(model: Path, backend: str, port: int) -> subprocess.Popen:
    command, _, _ = server_command(f"embedlab-{backend}", model, port, infinity="")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def shutdown_under_load(args, texts: list[str]) -> float:
    port = free_port()
    process = start(args.model, args.backend, port)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process)

    async def storm_then_sigterm() -> float:
        load = asyncio.ensure_future(overload(url, texts, args.clients, args.texts, 8))
        await asyncio.sleep(4)
        sent = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        while process.poll() is None and time.perf_counter() - sent < 120:
            await asyncio.sleep(0.05)
        exited = time.perf_counter() - sent
        await load
        return round(exited, 2)

    try:
        return asyncio.run(storm_then_sigterm())
    finally:
        if process.poll() is None:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--out", type=Path, default=Path("results/overload.json"))
    args = parser.parse_args()
    texts = sts_sentences("stsb", "test")

    port = free_port()
    process = start(args.model, args.backend, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        result = asyncio.run(overload(url, texts, args.clients, args.texts, args.seconds))
        result["probe_after_ms"] = asyncio.run(probe(url))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    result["sigterm_exit_seconds"] = shutdown_under_load(args, texts)
    result = {
        "machine": machine_summary(),
        "backend": args.backend,
        "clients": args.clients,
        "texts_per_request": args.texts,
        **result,
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
