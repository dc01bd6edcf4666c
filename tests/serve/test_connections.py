"""The service against hostile or careless clients and operators: slow clients cut off, a connection cap,
a blank API key refused, strict request types, typed filters, and an index that `index add` grew, seen."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.index import DocumentIndex, add_to_index, create_index
from embedlab.serve import ServeSettings, create_app
from embedlab.serve.connections import server_options
from tests.corpora import BagOfWordsEncoder
from tests.serve.test_routes import LiveServer

DOCS = [
    {"id": "a", "text": "rocket launch orbit satellite", "flag": True, "n": 3},
    {"id": "b", "text": "bread butter flour oven", "flag": False, "n": "3"},
]


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Send `trickle` a byte at a time until the server closes the connection; when it did (None: never)."""
    started = time.monotonic()
    sock.settimeout(0.1)
    position = 0
    while time.monotonic() - started < seconds:  # bounded: the test stops by itself
        if position < len(trickle):
            try:
                sock.sendall(trickle[position : position + 1])
            except OSError:
                return time.monotonic() - started
            position += 1
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


@pytest.fixture
def guarded():
    encoder = BagOfWordsEncoder()
    settings = ServeSettings(model="bag", header_timeout_s=0.6, body_timeout_s=0.6, max_connections=3)
    with LiveServer(create_app(settings, encoder=encoder), **server_options(settings)) as live:
        yield live


def test_unfinished_headers_and_a_trickled_body_are_cut_off(guarded):
    headers = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
    with socket.create_connection(("127.0.0.1", guarded.port)) as slow:
        cut = closed_within(slow, 5.0, trickle=headers)  # a byte every 0.1 s would take 6 s
    assert cut is not None and cut < 3.0
    body = b'{"inputs": "' + b"x" * 60 + b'"}'
    start = b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", guarded.port)) as slow:
        slow.sendall(start + f"Content-Length: {len(body)}\r\n\r\n".encode())
        cut = closed_within(slow, 5.0, trickle=body)
    assert cut is not None and cut < 3.0
    assert httpx.get(f"{guarded.url}/health").status_code == 200  # a prompt client is served as before


def test_connections_past_the_cap_get_503(guarded):
    idle = [socket.create_connection(("127.0.0.1", guarded.port)) for _ in range(3)]
    try:
        time.sleep(0.1)
        assert httpx.get(f"{guarded.url}/health").status_code == 503
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(f"{guarded.url}/health").status_code == 200


def test_a_blank_api_key_is_refused_and_a_key_file_is_read(tmp_path, monkeypatch, tiny_model_dir):
    for blank in ("", "   "):
        with pytest.raises(ValidationError, match="api_key"):
            ServeSettings(api_key=blank)
    key = tmp_path / "key"
    key.write_text("s3cret\n")
    assert ServeSettings(api_key_file=str(key)).api_key == "s3cret"
    key.write_text("\n")
    with pytest.raises(ValidationError, match="is empty"):
        ServeSettings(api_key_file=str(key))
    monkeypatch.setenv("EMBEDLAB_API_KEY", " ")
    result = CliRunner().invoke(app, ["serve", str(tiny_model_dir)])
    assert result.exit_code == 2 and "api_key" in result.stderr and "Traceback" not in result.output


@pytest.fixture
def indexed(tmp_path):
    encoder = BagOfWordsEncoder()
    folder = tmp_path / "idx"
    create_index(folder, encoder.encode([d["text"] for d in DOCS]), DOCS, model=encoder.identity, bm25=True)
    settings = ServeSettings(model="bag", index_dir=str(folder))
    live = LiveServer(create_app(settings, encoder=encoder, index=DocumentIndex.load(folder)))
    with live:
        yield live, folder, encoder


def test_strict_types_and_typed_filters(indexed):
    live, _, _ = indexed
    for path, body in (
        ("/v1/embeddings", {"input": "a", "dimensions": True}),
        ("/match", {"queries": ["a"], "candidates": ["b"], "min_score": False}),
        ("/search", {"query": "rocket", "k": True}),
    ):
        assert httpx.post(f"{live.url}{path}", json=body).status_code == 422, (path, body)

    def ids(where):
        hits = httpx.post(f"{live.url}/search", json={"query": "rocket bread", "where": where}).json()["hits"]
        return [h["id"] for h in hits]

    assert ids({"flag": True}) == ["a"] and ids({"flag": False}) == ["b"]
    assert ids({"n": 3}) == ["a"] and ids({"n": "3"}) == ["b"]  # 3 is not "3", as in JSON


def test_the_service_sees_what_index_add_wrote(indexed):
    live, folder, encoder = indexed
    search = {"query": "galaxy telescope", "mode": "bm25"}
    assert httpx.post(f"{live.url}/search", json=search).json()["hits"] == []
    more = [{"id": "c", "text": "telescope galaxy comet star", "flag": True, "n": 1}]
    add_to_index(folder, encoder.encode([d["text"] for d in more]), more, model=encoder.identity)
    hits = httpx.post(f"{live.url}/search", json=search).json()["hits"]
    assert [h["id"] for h in hits] == ["c"]
    assert json.loads((folder / "manifest.json").read_text())["count"] == 3
