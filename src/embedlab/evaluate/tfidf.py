"""The TF-IDF baseline (scikit-learn) for retrieval and classification, measured by the same metric code as
the embedding models. The vectoriser is fitted on training documents only.
"""

from __future__ import annotations

from embedlab.evaluate.classification import ClassificationResult, classify
from embedlab.evaluate.retrieval import RetrievalInputs, RetrievalResult, evaluate_rankings, ranked_hits


def fit_vectorizer(training_texts: list[str]):
    """The TF-IDF baseline's vectorizer (uni- and bigrams, sublinear tf), fitted on training texts.

    Example::

        vectorizer = fit_vectorizer([paper["abstract"] for paper in train])
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        sublinear_tf=True, min_df=2, max_df=0.5, ngram_range=(1, 2), max_features=200_000
    )
    vectorizer.fit(training_texts)
    return vectorizer


def tfidf_retrieval(vectorizer, inputs: RetrievalInputs) -> RetrievalResult:
    """Title → abstract retrieval with TF-IDF cosine, scored like the dense models.

    Example::

        tfidf_retrieval(vectorizer, inputs).metrics["mrr@10"]
    """
    queries = vectorizer.transform(list(inputs.queries.values()))  # rows are L2-normalised: dot = cosine
    corpus = vectorizer.transform(list(inputs.corpus.values())).T.tocsc()
    ranked = ranked_hits(
        lambda a, b: (queries[a:b] @ corpus).toarray(), queries.shape[0], list(inputs.corpus)
    )
    return evaluate_rankings(inputs, ranked)


def tfidf_classification(
    vectorizer,
    train_texts: list[str],
    train_labels: list[str],
    test_texts: list[str],
    test_labels: list[str],
    class_weight: str | None = "balanced",
) -> ClassificationResult:
    """Logistic regression on TF-IDF features: the classification baseline.

    Example::

        tfidf_classification(vectorizer, train_texts, train_labels, test_texts, test_labels).macro_f1
    """
    return classify(
        vectorizer.transform(train_texts),
        train_labels,
        vectorizer.transform(test_texts),
        test_labels,
        class_weight=class_weight,
    )
