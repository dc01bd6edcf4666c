"""Bounded loopback load test of the embedding service, against offline encode throughput.

Usage: .venv/bin/python benchmarks/load_test.py MODEL [--backend onnx-int8] [--clients 32] [--seconds 60]
Starts the service in this process on 127.0.0.1 (a free port), runs CLIENTS concurrent clients that each
send one STS-B sentence per POST /v1/embeddings until SECONDS have passed, then stops. Reports requests/s,
latency p50/p95/p99, errors, and the offline throughput of the same encoder at batch 32.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import threading
import time

import httpx
import uvicorn

from embedlab.data.sts import sentences as sts_sentences
from embedlab.runtime.encoder import load_encoder
from embedlab.serve import ServeSettings, create_app


async def client_loop(
    url: str, sentences: list[str], stop_at: float, latencies: list[float], errors: list[str]
):
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        position = 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/v1/embeddings", json={"input": sentences[position % len(sentences)]}
                )
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors.append(str(response.status_code))
            except httpx.HTTPError as error:
                errors.append(type(error).__name__)
            position += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    sentences = sts_sentences("stsb", "test")
    encoder = load_encoder(args.model, args.backend, threads=args.threads)
    started = time.perf_counter()
    encoder.encode(sentences[:512], batch_size=32)
    offline = 512 / (time.perf_counter() - started)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ServeSettings(model=args.model, backend=args.backend, threads=args.threads)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, encoder=encoder), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + args.seconds

    async def run_clients():
        url = f"http://127.0.0.1:{port}"
        await asyncio.gather(
            *(
                client_loop(url, sentences[i :: args.clients], stop_at, latencies, errors)
                for i in range(args.clients)
            )
        )

    began = time.perf_counter()
    asyncio.run(run_clients())
    elapsed = time.perf_counter() - began
    server.should_exit = True
    thread.join(timeout=10)

    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    print(f"{args.model} ({args.backend}), {args.clients} clients, {elapsed:.0f} s on 127.0.0.1")
    print(
        f"requests/s {len(latencies) / elapsed:.1f} (one sentence each); errors {len(errors)}"
        + (f" ({', '.join(sorted(set(errors)))})" if errors else "")
    )
    print(f"latency ms p50 {cuts[49] * 1000:.1f}, p95 {cuts[94] * 1000:.1f}, p99 {cuts[98] * 1000:.1f}")
    print(f"offline encode, batch 32: {offline:.1f} sentences/s")


if __name__ == "__main__":
    main()
