"""The service against a real uvicorn on 127.0.0.1, with the tiny random model."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn

from embedlab.index import DocumentIndex
from embedlab.runtime.encoder import TorchEncoder
from embedlab.serve import ServeSettings, create_app

DOCS = [
    {"id": "d1", "text": "a man plays guitar"},
    {"id": "d2", "text": "the stock market fell today"},
    {"id": "d3", "text": "a dog runs in the park"},
]


class LiveServer:
    def __init__(self, app, **config) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **config)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def encoder(tiny_model_dir):
    return TorchEncoder(tiny_model_dir)


@pytest.fixture(scope="module")
def server(encoder, tiny_model_dir):
    settings = ServeSettings(
        model=str(tiny_model_dir), max_inputs=8, max_chars=40, max_body_bytes=5000, max_wait_ms=20
    )
    docs = [dict(d) for d in DOCS]
    index = DocumentIndex.build(encoder.encode([d["text"] for d in docs]), docs, model=encoder.identity)
    with LiveServer(create_app(settings, encoder=encoder, index=index)) as live:
        yield live


def test_health_ready_metrics(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready").json()
    assert ready["status"] == "ready" and ready["dim"] == 32 and ready["index"] == 3
    httpx.post(f"{server.url}/embed", json={"inputs": "a dog"})
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'embedlab_requests_total{path="/embed",status="200"}' in metrics


def test_embed_matches_direct_encoding(server, encoder):
    texts = ["a man plays guitar", "a dog runs"]
    body = httpx.post(f"{server.url}/embed", json={"inputs": texts}).json()
    direct = encoder.encode(texts)
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    assert body["dim"] == 32
    assert np.allclose(np.array(body["embeddings"]), direct, atol=1e-5)


def test_similarity_and_search(server):
    scores = httpx.post(
        f"{server.url}/similarity", json={"source": "a dog", "targets": ["a dog", "a man"]}
    ).json()
    assert scores["scores"][0] == pytest.approx(1.0, abs=1e-5) and len(scores["scores"]) == 2
    hits = httpx.post(f"{server.url}/search", json={"query": "the stock market fell today", "k": 2}).json()[
        "hits"
    ]
    assert hits[0]["id"] == "d2" and hits[0]["score"] == pytest.approx(1.0, abs=1e-4) and len(hits) == 2


def test_openai_shape_float_base64_and_dimensions(server, encoder):
    body = httpx.post(f"{server.url}/v1/embeddings", json={"input": ["a dog", "a cat"], "model": "m"}).json()
    assert body["object"] == "list" and body["model"] == "m"
    assert [d["index"] for d in body["data"]] == [0, 1] and body["data"][0]["object"] == "embedding"
    assert (
        body["usage"]["prompt_tokens"]
        == body["usage"]["total_tokens"]
        == encoder.count_tokens(["a dog", "a cat"])
    )
    as_float = np.array(body["data"][0]["embedding"], dtype=np.float32)
    encoded = httpx.post(
        f"{server.url}/v1/embeddings", json={"input": "a dog", "encoding_format": "base64"}
    ).json()
    as_base64 = np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(as_float, as_base64, atol=1e-6)
    short = httpx.post(f"{server.url}/v1/embeddings", json={"input": "a dog", "dimensions": 8}).json()
    vector = np.array(short["data"][0]["embedding"])
    assert vector.shape == (8,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("path", "payload", "status", "phrase"),
    [
        ("/embed", {"inputs": []}, 422, "at least 1 item"),
        ("/embed", {"inputs": ["ok", "  "]}, 422, "should match pattern"),
        ("/embed", {"inputs": ["x"] * 9}, 413, "9 inputs in one request; at most 8"),
        ("/embed", {"inputs": 42}, 422, ""),
        ("/embed", {"text": "wrong field"}, 422, ""),
        ("/v1/embeddings", {"input": "a dog", "dimensions": 64}, 400, "at most 32"),
        ("/v1/embeddings", {"input": "a dog", "encoding_format": "int8"}, 422, ""),
        ("/search", {"query": "a dog", "k": 1000}, 400, "at most 100"),
        ("/similarity", {"source": "a dog", "targets": []}, 422, "at least 1 item"),
    ],
)
def test_bad_input_gets_a_clear_4xx(server, path, payload, status, phrase):
    response = httpx.post(f"{server.url}{path}", json=payload)
    assert response.status_code == status, response.text
    assert phrase in response.text


def test_body_size_limit_and_long_inputs_are_truncated(server):
    huge = httpx.post(f"{server.url}/embed", json={"inputs": ["word " * 2000]})
    assert huge.status_code == 413 and "over 5000 bytes" in huge.text
    long = httpx.post(f"{server.url}/embed", json={"inputs": ["a dog " * 20]})  # 120 chars, limit 40
    assert long.status_code == 200


def test_api_key(encoder, tiny_model_dir):
    settings = ServeSettings(model=str(tiny_model_dir), api_key="s3cret")
    with LiveServer(create_app(settings, encoder=encoder)) as live:
        assert httpx.get(f"{live.url}/health").status_code == 200
        assert httpx.post(f"{live.url}/embed", json={"inputs": "a"}).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.post(f"{live.url}/embed", json={"inputs": "a"}, headers=wrong).status_code == 401
        right = {"Authorization": "Bearer s3cret"}
        assert httpx.post(f"{live.url}/embed", json={"inputs": "a"}, headers=right).status_code == 200
        assert httpx.post(f"{live.url}/search", json={"query": "a"}, headers=right).status_code == 404


def test_concurrent_requests_are_batched_and_each_gets_its_own_vectors(server, encoder):
    texts = [f"a man plays guitar {'and a dog runs ' * (i % 3)}".strip()[:40] for i in range(24)]
    expected = encoder.encode(texts)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)

    async def fire():
        async with httpx.AsyncClient(base_url=server.url) as client:
            return await asyncio.gather(*(client.post("/embed", json={"inputs": [t]}) for t in texts))

    responses = asyncio.run(fire())
    got = np.array([r.json()["embeddings"][0] for r in responses])
    assert np.allclose(got, expected, atol=1e-5)
    metrics = httpx.get(f"{server.url}/metrics").text
    batched = [
        line for line in metrics.splitlines() if line.startswith('embedlab_batch_requests_bucket{le="1.0"}')
    ]
    total = [line for line in metrics.splitlines() if line.startswith("embedlab_batch_requests_count")]
    single, calls = float(batched[0].split()[-1]), float(total[0].split()[-1])
    assert single < calls  # at least one encode call served several requests


def test_the_openai_client_works_unchanged(encoder, tiny_model_dir):
    """The official client asks for base64 by default and decodes it itself."""
    from openai import OpenAI

    settings = ServeSettings(model=str(tiny_model_dir), api_key="k")
    with LiveServer(create_app(settings, encoder=encoder)) as live:
        client = OpenAI(base_url=f"{live.url}/v1", api_key="k", max_retries=0)
        result = client.embeddings.create(model="tiny", input=["a man plays guitar", "a dog runs"])
        short = client.embeddings.create(model="tiny", input="a dog runs", dimensions=16)
    direct = encoder.encode(["a man plays guitar", "a dog runs"])
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    assert np.allclose([d.embedding for d in result.data], direct, atol=1e-5)
    assert result.usage.prompt_tokens > 0 and result.model == "tiny"
    assert len(short.data[0].embedding) == 16


def test_openai_clients_list_models_and_read_errors_in_their_shape(encoder, tiny_model_dir):
    import openai
    from openai import OpenAI

    settings = ServeSettings(model=str(tiny_model_dir), api_key="k", max_inputs=2)
    with LiveServer(create_app(settings, encoder=encoder)) as live:
        client = OpenAI(base_url=f"{live.url}/v1", api_key="k", max_retries=0)
        assert [m.id for m in client.models.list()] == [str(tiny_model_dir)]
        assert client.models.retrieve(str(tiny_model_dir)).owned_by == "embedlab"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("gpt-4")
        with pytest.raises(openai.UnprocessableEntityError) as empty:
            client.embeddings.create(model="tiny", input=[])
        assert "input: List should have at least 1 item" in empty.value.body["message"]  # the client reads it
        with pytest.raises(openai.APIStatusError) as many:
            client.embeddings.create(model="tiny", input=["a", "b", "c"])
        assert many.value.status_code == 413 and many.value.body["code"] == "request_entity_too_large"
        with pytest.raises(openai.AuthenticationError):
            OpenAI(base_url=f"{live.url}/v1", api_key="wrong", max_retries=0).models.list()
        wrong = httpx.post(
            f"{live.url}/v1/embeddings", json={"input": 5}, headers={"Authorization": "Bearer k"}
        )
    error = wrong.json()["error"]
    assert wrong.status_code == 422 and set(error) == {"message", "type", "param", "code"}
    assert error["param"] == "input" and error["type"] == "invalid_request_error"
    assert "function-after" not in error["message"] and "constrained" not in error["message"]
