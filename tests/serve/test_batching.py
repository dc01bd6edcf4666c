"""The service under overload and bad input: shed fast, drop dead work, stop in bounded time, never 500."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.runtime.encoder import TorchEncoder
from embedlab.serve import ServeSettings, create_app
from tests.serve.test_routes import LiveServer


class SlowEncoder:
    """The tiny model, made slow, remembering every text it was actually asked to encode."""

    def __init__(self, inner: TorchEncoder, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.dim, self.max_seq_length, self.identity = inner.dim, inner.max_seq_length, inner.identity
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def encode_counted(self, texts, batch_size=32):
        time.sleep(self.delay)
        with self.lock:
            self.seen.extend(texts)
        return self.inner.encode_counted(texts, batch_size)


@pytest.fixture(scope="module")
def encoder(tiny_model_dir):
    return TorchEncoder(tiny_model_dir)


def settings(tiny_model_dir, **overrides) -> ServeSettings:
    return ServeSettings(model=str(tiny_model_dir), **overrides)


async def _post_all(url: str, bodies: list[dict], timeout: float = 30) -> list[tuple[int, float, dict]]:
    async with httpx.AsyncClient(
        base_url=url, timeout=timeout, limits=httpx.Limits(max_connections=100)
    ) as client:

        async def one(body):
            started = time.perf_counter()
            response = await client.post("/embed", json=body)
            return response.status_code, time.perf_counter() - started, dict(response.headers)

        return await asyncio.gather(*(one(b) for b in bodies))


def test_a_full_queue_answers_503_with_retry_after_at_once(encoder, tiny_model_dir):
    slow = SlowEncoder(encoder, delay=0.3)
    config = settings(tiny_model_dir, max_queue_texts=8, max_batch_size=4, max_wait_ms=0)
    with LiveServer(create_app(config, encoder=slow)) as live:
        bodies = [{"inputs": [f"a dog runs {i}", f"a cat sits {i}"]} for i in range(30)]
        results = asyncio.run(_post_all(live.url, bodies))
        metrics = httpx.get(f"{live.url}/metrics").text
    refused = [r for r in results if r[0] == 503]
    accepted = [r for r in results if r[0] == 200]
    assert refused and accepted and len(refused) + len(accepted) == 30
    assert all(int(headers["retry-after"]) >= 1 for _, _, headers in refused)
    # refused without waiting their turn: sooner than the accepted ones are served (the slow encoder holds the
    # event loop 0.3 s per batch, so on a loaded machine a refusal can still take a few tenths of a second)
    assert max(seconds for _, seconds, _ in refused) < max(seconds for _, seconds, _ in accepted)
    assert len(slow.seen) == 2 * len(accepted)  # refused work was never encoded
    assert 'embedlab_shed_total{reason="queue full"}' in metrics


def test_a_request_past_its_deadline_is_dropped_and_answered_504(encoder, tiny_model_dir):
    slow = SlowEncoder(encoder, delay=0.4)
    config = settings(tiny_model_dir, max_batch_size=2, max_wait_ms=0, request_timeout_s=0.6)
    with LiveServer(create_app(config, encoder=slow)) as live:
        bodies = [{"inputs": [f"a dog runs {i}", f"a cat sits {i}"]} for i in range(8)]
        results = asyncio.run(_post_all(live.url, bodies))
        time.sleep(0.5)  # whatever was still queued would have been encoded by now
    statuses = [status for status, _, _ in results]
    assert statuses.count(504) >= 4 and 200 in statuses
    # answered within the deadline plus the encode chunks that block the loop around it (0.4 s each), well
    # before the 3.2 s the last request would wait without a deadline
    assert max(seconds for status, seconds, _ in results if status == 504) < 2.2
    assert len(slow.seen) < 16  # the timed-out requests left the queue unencoded


def _raw_post(port: int, text: str):
    import json
    import socket

    body = json.dumps({"inputs": text}).encode()
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(
        b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return connection


def test_a_queued_request_whose_client_hangs_up_leaves_the_queue(encoder, tiny_model_dir):
    slow = SlowEncoder(encoder, delay=0.5)
    config = settings(tiny_model_dir, max_batch_size=1, max_wait_ms=0)
    with LiveServer(create_app(config, encoder=slow)) as live:
        first = _raw_post(live.port, "a dog runs")  # encoded from t=0 to 0.5
        time.sleep(0.1)
        second = _raw_post(live.port, "a cat sits")  # queued, encoded from 0.5 to 1.0
        third = _raw_post(live.port, "nobody waits for this")  # queued behind it
        time.sleep(0.65)
        third.close()  # hangs up while the second is being encoded
        time.sleep(1.5)
        first.close()
        second.close()
        metrics = httpx.get(f"{live.url}/metrics").text
    assert slow.seen == ["a dog runs", "a cat sits"]
    assert 'embedlab_shed_total{reason="client gone"} 1.0' in metrics


def test_shutdown_with_a_backlog_is_bounded(encoder, tiny_model_dir):
    slow = SlowEncoder(encoder, delay=0.5)
    config = settings(
        tiny_model_dir, max_batch_size=2, max_wait_ms=0, request_timeout_s=2, shutdown_grace_s=1
    )
    live = LiveServer(create_app(config, encoder=slow), timeout_graceful_shutdown=1)
    live.__enter__()
    bodies = [{"inputs": [f"a dog runs {i}", f"a cat sits {i}"]} for i in range(40)]
    clients = threading.Thread(
        target=lambda: asyncio.run(_post_all(live.url, bodies, timeout=10)), daemon=True
    )
    clients.start()
    time.sleep(0.5)
    started = time.monotonic()
    live.__exit__(None, None, None)
    assert not live.thread.is_alive() and time.monotonic() - started < 5
    clients.join(timeout=15)


def test_a_lone_surrogate_is_a_422_not_a_500(encoder, tiny_model_dir):
    with LiveServer(create_app(settings(tiny_model_dir), encoder=encoder)) as live:
        for path, body in (
            ("/embed", b'{"inputs": "\\ud800"}'),
            ("/v1/embeddings", b'{"input": ["ok", "bad \\udfff"]}'),
            ("/v1/embeddings", b'{"input": "ok", "model": "\\ud800"}'),
        ):
            response = httpx.post(
                f"{live.url}{path}", content=body, headers={"content-type": "application/json"}
            )
            # pydantic refuses the string; the error names the field and does not echo what cannot be encoded
            assert response.status_code == 422 and "nicode" in response.text, response.text


def test_docs_need_the_key_unless_made_public(encoder, tiny_model_dir):
    closed = settings(tiny_model_dir, api_key="k")
    with LiveServer(create_app(closed, encoder=encoder)) as live:
        assert httpx.get(f"{live.url}/docs").status_code == 401
        assert httpx.get(f"{live.url}/openapi.json").status_code == 401
        assert httpx.get(f"{live.url}/openapi.json", headers={"Authorization": "Bearer k"}).status_code == 200
    public = settings(tiny_model_dir, api_key="k", public_docs=True)
    with LiveServer(create_app(public, encoder=encoder)) as live:
        assert httpx.get(f"{live.url}/openapi.json").status_code == 200
        assert httpx.post(f"{live.url}/embed", json={"inputs": "a"}).status_code == 401


def test_vectors_are_the_encoders_exactly(encoder, tiny_model_dir):
    with LiveServer(create_app(settings(tiny_model_dir), encoder=encoder)) as live:
        body = httpx.post(f"{live.url}/embed", json={"inputs": ["a dog", "a man"], "normalize": False}).json()
    assert np.allclose(body["embeddings"], encoder.encode(["a dog", "a man"]), atol=1e-6)


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--backend", "onnx"], "onnx/model.onnx not found"),
        (["--index", "{tmp}/no-index"], "holds no index"),
        (["--backend", "tensorflow"], "tensorflow"),
        (["--port", "80000"], "'--port'"),
    ],
)
def test_serve_start_up_errors_are_one_line(tiny_model_dir, tmp_path, args, phrase):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(app, ["serve", str(tiny_model_dir), *args])
    assert result.exit_code == 2 and phrase in result.output, result.output
    assert "Traceback" not in result.output


def test_serve_refuses_an_index_of_another_model(other_model_dir, tiny_model_dir, fixtures, tmp_path):
    runner = CliRunner()
    out = tmp_path / "idx"
    assert (
        runner.invoke(
            app, ["index", "build", str(tiny_model_dir), str(fixtures / "docs.jsonl"), "--out", str(out)]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["serve", str(other_model_dir), "--index", str(out)])
    assert result.exit_code == 2 and "built with another model" in result.output
