"""The Ray engine on a local Ray: the same shards and vectors as the local engine."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.embed import embed_corpus, read_vectors
from tests.embed.test_corpus import write_corpus

pytestmark = pytest.mark.slow


def test_local_ray_gives_the_shards_and_vectors_of_the_local_engine(tmp_path, tiny_model_dir):
    pytest.importorskip("ray")
    corpus = write_corpus(tmp_path / "corpus.jsonl", 90)
    local = embed_corpus(corpus, str(tiny_model_dir), tmp_path / "local", shard_size=20, show_progress=False)
    on_ray = embed_corpus(
        corpus,
        str(tiny_model_dir),
        tmp_path / "ray",
        shard_size=20,
        engine="ray",
        actors=1,
        show_progress=False,
    )
    assert (on_ray.count, on_ray.shards_written) == (local.count, local.shards_written) == (90, 5)
    a_vectors, a_docs, a_manifest = read_vectors(tmp_path / "local")
    b_vectors, b_docs, b_manifest = read_vectors(tmp_path / "ray")
    assert a_docs == b_docs and a_manifest["shards"] == b_manifest["shards"]
    cosine = (
        (a_vectors * b_vectors).sum(1) / np.linalg.norm(a_vectors, axis=1) / np.linalg.norm(b_vectors, axis=1)
    )
    assert cosine.min() >= 0.9999
