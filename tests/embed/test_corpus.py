"""Corpus embedding into Parquet shards: equal to encoding directly, resumable after SIGKILL, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.embed import embed_corpus, read_vectors, read_vectors_manifest
from embedlab.errors import ConfigError, DataError

WORDS = "a man plays guitar the cat sat on mat stock market fell sharply today dog runs in park".split(" ")  # noqa: SIM905


def write_corpus(path: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    with path.open("w") as handle:
        for i in range(count):
            text = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12))))
            handle.write(json.dumps({"id": f"d{i}", "text": text, "lang": "en" if i % 2 else "de"}) + "\n")
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "corpus.jsonl", 70)


def test_shards_hold_the_vectors_ids_and_fields_of_every_document(
    corpus, tmp_path, tiny_model_dir, tiny_model
):
    result = embed_corpus(
        corpus, str(tiny_model_dir), tmp_path / "vectors", shard_size=16, show_progress=False
    )
    assert (result.count, result.shards_written, result.dim) == (70, 5, 32)
    vectors, documents, manifest = read_vectors(tmp_path / "vectors")
    texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines()]
    np.testing.assert_allclose(vectors, tiny_model.encode(texts), atol=1e-5)
    assert [d["id"] for d in documents] == [f"d{i}" for i in range(70)]
    span = {"doc_id": "d1", "start": 0, "end": len(texts[1])}  # one chunk: it fits what the model reads
    assert documents[1] == {"id": "d1", "text": texts[1], "lang": "en", **span}
    assert manifest["finished"] and manifest["count"] == 70 and manifest["dim"] == 32
    assert [s["rows"] for s in manifest["shards"]] == [16, 16, 16, 16, 6]
    assert manifest["model"]["fingerprint"] and manifest["normalized"] is False


@pytest.mark.parametrize("precision", ["int8", "binary"])
def test_compressed_shards_hold_sentence_transformers_codes(
    precision, corpus, tmp_path, tiny_model_dir, tiny_model
):
    from sentence_transformers.quantization import quantize_embeddings

    from embedlab.embed.shards import read_codes

    out = tmp_path / precision
    embed_corpus(corpus, str(tiny_model_dir), out, shard_size=16, vectors=precision, show_progress=False)
    texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines()]
    exact = tiny_model.encode(texts)
    manifest = read_vectors_manifest(out)
    codes = np.concatenate(list(read_codes(out)))
    if precision == "binary":  # packed sign bits: 32 dims in 4 bytes
        assert manifest["dtype"] == "ubinary" and codes.dtype == np.uint8 and codes.shape == (70, 4)
        assert np.array_equal(codes, quantize_embeddings(exact, "ubinary"))
    else:  # ranges calibrated on the first shard, shared by every shard
        ranges = np.asarray(manifest["int8_ranges"], dtype=np.float32)
        assert manifest["dtype"] == "int8" and codes.dtype == np.int8 and codes.shape == (70, 32)
        assert np.abs(codes.astype(int) - quantize_embeddings(exact, "int8", ranges=ranges)).max() <= 1
    vectors, documents, _ = read_vectors(out)  # read back as float32 that rank like the codes
    cosine = (vectors * exact).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(exact, axis=1)
    assert cosine.min() > (0.98 if precision == "int8" else 0.6)  # int8: later shards clipped to the first's
    assert [d["id"] for d in documents] == [f"d{i}" for i in range(70)]


def test_keep_stores_only_the_named_fields(corpus, tmp_path, tiny_model_dir):
    embed_corpus(corpus, str(tiny_model_dir), tmp_path / "v", keep=[], show_progress=False)
    _, documents, _ = read_vectors(tmp_path / "v")
    assert set(documents[0]) == {"id", "text", "doc_id", "start", "end"}
    embed_corpus(
        corpus, str(tiny_model_dir), tmp_path / "u", keep=["lang"], keep_text=False, show_progress=False
    )
    _, documents, _ = read_vectors(tmp_path / "u")
    assert documents[0] == {"id": "d0", "lang": "de", "doc_id": "d0", "start": 0, "end": documents[0]["end"]}


def test_long_documents_are_chunked_as_index_build_does_or_truncated_when_asked(tmp_path, tiny_model_dir):
    long_text = " ".join(WORDS * 12)  # ~240 tokens; the tiny model reads 64
    corpus = tmp_path / "long.jsonl"
    corpus.write_text(
        json.dumps({"id": "long", "text": long_text}) + "\n" + json.dumps({"id": "s", "text": "a dog"}) + "\n"
    )
    embed_corpus(corpus, str(tiny_model_dir), tmp_path / "c", show_progress=False)
    _, rows, manifest = read_vectors(tmp_path / "c")
    assert manifest["chunking"] == {"window": 62, "overlap": 32}
    chunks = [r for r in rows if r["doc_id"] == "long"]
    assert len(chunks) > 3 and chunks[0]["id"] == "long#0" and chunks[-1]["end"] == len(long_text)
    assert all(r["text"] == long_text[r["start"] : r["end"]] for r in chunks)
    embed_corpus(corpus, str(tiny_model_dir), tmp_path / "t", long_documents="truncate", show_progress=False)
    _, rows, manifest = read_vectors(tmp_path / "t")
    assert manifest["chunking"] is None and [r["id"] for r in rows] == ["long", "s"]
    assert manifest["settings"]["long_documents"] == "truncate"
    with pytest.raises(DataError, match="no field 'title' to keep"):
        embed_corpus(corpus, str(tiny_model_dir), tmp_path / "w", keep=["title"], show_progress=False)


KILLER = """
import os, signal, sys
import embedlab.embed.corpus as corpus

real = corpus.write_shard

def write_then_die(folder, number, documents, vectors):
    if number == 2:  # killed while the third shard is in flight: a half-written temp file is left behind
        (folder / ".shard-00002.parquet.abc.tmp").write_bytes(b"PAR1 half")
        os.kill(os.getpid(), signal.SIGKILL)
    return real(folder, number, documents, vectors)

corpus.write_shard = write_then_die
from embedlab.cli import app
app(sys.argv[1:])
"""


def test_a_killed_run_resumes_to_exactly_the_shards_of_an_uninterrupted_one(corpus, tmp_path, tiny_model_dir):
    out = tmp_path / "killed"
    command = ["embed", str(corpus), "--model", str(tiny_model_dir), "--out", str(out), "--shard-size", "16"]
    killed = subprocess.run([sys.executable, "-c", KILLER, *command], capture_output=True, text=True)
    assert killed.returncode == -9
    manifest = read_vectors_manifest(out)
    assert not manifest["finished"] and [s["file"] for s in manifest["shards"]] == [
        "shard-00000.parquet",
        "shard-00001.parquet",
    ]
    finished = {
        name: (out / name).stat().st_mtime_ns for name in ("shard-00000.parquet", "shard-00001.parquet")
    }
    with pytest.raises(DataError, match="not finished"):
        read_vectors(out)

    resumed = CliRunner().invoke(app, [*command, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "3 written now, 2 kept from before" in resumed.output
    assert {name: (out / name).stat().st_mtime_ns for name in finished} == finished  # never rewritten

    whole = embed_corpus(corpus, str(tiny_model_dir), tmp_path / "whole", shard_size=16, show_progress=False)
    assert whole.shards_written == 5
    a_vectors, a_docs, a_manifest = read_vectors(out)
    b_vectors, b_docs, b_manifest = read_vectors(tmp_path / "whole")
    assert a_docs == b_docs and np.array_equal(a_vectors, b_vectors)
    assert a_manifest["shards"] == b_manifest["shards"] and a_manifest["count"] == 70


def test_refusals_name_the_problem_and_touch_nothing(corpus, tmp_path, tiny_model_dir, other_model_dir):
    out = tmp_path / "vectors"
    embed_corpus(corpus, str(tiny_model_dir), out, shard_size=32, show_progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(ConfigError, match=r"already holds vectors \(70 texts, finished\); pass resume=True"):
        embed_corpus(corpus, str(tiny_model_dir), out, show_progress=False)
    with pytest.raises(ConfigError, match="holds vectors of another model"):
        embed_corpus(corpus, str(other_model_dir), out, resume=True, show_progress=False)
    with pytest.raises(ConfigError, match="embedded with shard_size 32, now 16"):
        embed_corpus(corpus, str(tiny_model_dir), out, resume=True, shard_size=16, show_progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(
        app, ["embed", str(corpus), "--model", str(tiny_model_dir), "--out", str(mine)]
    )
    assert result.exit_code == 2 and "embedlab did not write" in result.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "body": "no text"}\n')
    result = CliRunner().invoke(
        app, ["embed", str(bad), "--model", str(tiny_model_dir), "--out", str(tmp_path / "b")]
    )
    assert result.exit_code == 2 and "bad.jsonl, line 2, field 'text'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_ray_address_is_one_line_in_seconds(corpus, tmp_path, tiny_model_dir):
    pytest.importorskip("ray")
    args = ["embed", str(corpus), "--model", str(tiny_model_dir), "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(app, [*args, "--engine", "ray", "--address", "ray://127.0.0.1:9"])
    assert result.exit_code == 2 and "--address ray://127.0.0.1:9: no Ray cluster answers" in result.stderr
    assert not (tmp_path / "r" / "manifest.json").exists()


def test_index_build_from_vectors_equals_building_from_documents(corpus, tmp_path, tiny_model_dir):
    from embedlab.index import DocumentIndex

    embed_corpus(corpus, str(tiny_model_dir), tmp_path / "vectors", shard_size=16, show_progress=False)
    runner = CliRunner()
    built = runner.invoke(
        app, ["index", "build", "--from-vectors", str(tmp_path / "vectors"), "--out", str(tmp_path / "a")]
    )
    assert built.exit_code == 0, built.output
    direct = runner.invoke(
        app,
        [
            "index",
            "build",
            str(tiny_model_dir),
            str(corpus),
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert direct.exit_code == 0, direct.output
    a, b = DocumentIndex.load(tmp_path / "a"), DocumentIndex.load(tmp_path / "b")
    assert [d["id"] for d in a.documents] == [d["id"] for d in b.documents]
    query = a.vectors_of([3])
    assert [h.document["id"] for h in a.search(query, 5)[0]] == [
        h.document["id"] for h in b.search(query, 5)[0]
    ]
    found = runner.invoke(app, ["index", "search", str(tmp_path / "a"), "man plays guitar", "-k", "3"])
    assert found.exit_code == 0 and "passage" in found.output

    both = runner.invoke(app, ["index", "build", str(tiny_model_dir), "--from-vectors", "x", "--out", "y"])
    assert both.exit_code == 2 and "not both" in both.stderr


def test_a_cut_or_swapped_shard_is_refused_when_read(corpus, tmp_path, tiny_model_dir):
    import pyarrow.parquet as pq

    out = tmp_path / "vectors"
    embed_corpus(corpus, str(tiny_model_dir), out, shard_size=32, show_progress=False)
    shard = out / "shard-00001.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.slice(0, table.num_rows // 2), shard)  # half its rows, a valid file
    with pytest.raises(DataError, match=r"shard-00001\.parquet: the shard differs"):
        read_vectors(out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][1].pop("sha256")  # an older manifest without checksums: the row count still tells
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="16 rows, the manifest recorded 32"):
        read_vectors(out)
