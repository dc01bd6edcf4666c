"""Clustering: three planted topics come back as three clusters with their own keywords."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.apps.cluster import agreement, class_tfidf_keywords, cluster_vectors
from embedlab.cli import app
from embedlab.errors import EmbedlabError
from tests.corpora import TOPIC_WORDS, BagOfWordsEncoder, topic_texts


@pytest.mark.parametrize("options", [{"k": 3}, {"min_cluster_size": 8}, {}])  # {}: k chosen
def test_three_planted_topics_are_found_with_their_keywords(options):
    texts, topics = topic_texts()
    result = cluster_vectors(BagOfWordsEncoder().encode(texts), texts, **options)
    assert agreement(result.labels, topics)["v_measure"] > 95
    assert len(result.clusters) == 3 and sorted(c.size for c in result.clusters) == [20, 20, 20]
    for c in result.clusters:
        topic = topics[c.central[0]]
        assert set(c.keywords[:5]) <= set(TOPIC_WORDS[topic])  # keywords of its own topic
        assert all(topics[row] == topic for row in c.central)


def test_class_tfidf_prefers_words_of_one_cluster():
    texts = ["apple banana common", "apple cherry common", "rocket orbit common", "rocket comet common"]
    keywords = class_tfidf_keywords(texts, np.array([0, 0, 1, 1]), top=1)
    assert keywords == {0: ["apple"], 1: ["rocket"]}


def test_at_most_one_method_and_a_k_that_fits():
    vectors = np.eye(4, dtype=np.float32)
    with pytest.raises(EmbedlabError, match="not both"):
        cluster_vectors(vectors, ["a"] * 4, k=2, min_cluster_size=2)
    with pytest.raises(EmbedlabError, match="k=9"):
        cluster_vectors(vectors, ["a"] * 4, k=9)


def test_cli_cluster_writes_assignments_clusters_report_and_map(tiny_model_dir, tmp_path):
    texts, _ = topic_texts(per_topic=6)
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "clusters"
    result = CliRunner().invoke(
        app, ["cluster", str(docs), "-m", str(tiny_model_dir), "--clusters", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {"assignments.jsonl", "clusters.jsonl", "report.md", "map.png", ".embedlab.json"}
    rows = [json.loads(line) for line in (out / "assignments.jsonl").read_text().splitlines()]
    assert len(rows) == 18 and {r["cluster"] for r in rows} <= {0, 1, 2}
    too_many = CliRunner().invoke(
        app,
        ["cluster", str(docs), "-m", str(tiny_model_dir), "--clusters", "50", "--out", str(tmp_path / "x")],
    )
    assert too_many.exit_code == 2 and "holds only 18 documents" in too_many.stderr
    assert not (tmp_path / "x").exists()
