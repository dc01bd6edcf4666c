"""Classification on embeddings and the TF-IDF baseline, on the generated arXiv corpus."""

from __future__ import annotations

from embedlab.data.arxiv import load_split
from embedlab.evaluate.classification import classify_embeddings
from embedlab.evaluate.retrieval import retrieval_inputs
from embedlab.evaluate.tfidf import fit_vectorizer, tfidf_classification, tfidf_retrieval
from tests.corpora import WordCountEncoder


def test_classification_and_tfidf_baseline_on_the_fixture_corpus(arxiv_splits):
    train, test = load_split(arxiv_splits, "train"), load_split(arxiv_splits, "test")
    train_labels, test_labels = [p["label"] for p in train], [p["label"] for p in test]
    encoder = WordCountEncoder()
    result = classify_embeddings(
        encoder.encode([p["abstract"] for p in train]),
        train_labels,
        encoder.encode([p["abstract"] for p in test]),
        test_labels,
    )
    assert result.accuracy == 1.0 and result.macro_f1 == 1.0
    vectorizer = fit_vectorizer([p["abstract"] for p in train])
    baseline = tfidf_classification(
        vectorizer, [p["abstract"] for p in train], train_labels, [p["abstract"] for p in test], test_labels
    )
    assert baseline.accuracy > 0.9
    retrieval = tfidf_retrieval(vectorizer, retrieval_inputs(test, "abstract", "abstract"))
    assert retrieval.metrics["precision@1"] == 1.0  # each abstract finds itself first
    assert retrieval.metrics["precision@10"] > 0.8
    assert [r.metric for r in retrieval.records()][:3] == ["precision@1", "precision@5", "precision@10"]
