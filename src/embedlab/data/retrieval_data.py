"""A user's own retrieval data — documents with a field mapping, or a pairs file — as training pairs and
held-out retrieval tasks in the BEIR shape.

Documents (`query_field: title`, `document_field: abstract`, optional `label_field`): each document's query
field is a query and the document field its one relevant document. A pairs file (`query`, `positive`,
optional `negative`): each distinct query is a query, its positives are relevant, every positive and
negative is a document. Queries are split by a hash of (seed, query text): the split of a query never
depends on row order or on the rest of the file, and a query seen in training is never held out.

    rows = read_documents("papers.jsonl", query_field="title", document_field="abstract")
    splits = split_queries(rows, held_out=0.1, dev_queries=300, seed=42)
    splits.test  # a RetrievalTask: held-out queries over their documents and a sample of the others
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from embedlab.data.beir import RetrievalTask
from embedlab.errors import DataError
from embedlab.io import content_digest


@dataclass(frozen=True)
class QueryRow:
    """One query, its relevant documents (ids), given negatives (texts) and label."""

    query: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class RetrievalRows:
    """Queries grouped with their relevant documents, and the documents by id."""

    queries: list[QueryRow]
    documents: dict[str, str]
    labels: dict[str, str]  # document id → label, when the data has labels


def read_documents(
    path: str | Path,
    *,
    query_field: str,
    document_field: str,
    label_field: str | None = None,
    id_field: str | None = None,
) -> RetrievalRows:
    """A documents file (JSONL, CSV, TSV, Parquet; .gz text too) read with a field mapping: each row's
    `query_field` queries its own `document_field`. A row missing a mapped field is one `DataError` naming
    file, row and field — before any encoding.

    Example::

        rows = read_documents("papers.jsonl", query_field="title", document_field="abstract",
                              label_field="category")
    """
    from embedlab.data.documents import iter_documents

    keep = [query_field] + ([label_field] if label_field else [])
    grouped: dict[str, list[str]] = defaultdict(list)
    documents: dict[str, str] = {}
    labels: dict[str, str] = {}
    label_of: dict[str, str] = {}
    for number, row in iter_documents(path, id_field, document_field, keep=keep):
        query = _text_field(row, query_field, path, number)
        doc_id = row["id"]
        if doc_id in documents:
            raise DataError(f"duplicate id {doc_id!r}", path=Path(path), line=number, field=id_field)
        documents[doc_id] = row["text"]
        grouped[query].append(doc_id)
        if label_field:
            labels[doc_id] = label_of.setdefault(query, _text_field(row, label_field, path, number))
    queries = [
        QueryRow(query, tuple(ids), label=labels.get(ids[0]) if label_field else None)
        for query, ids in grouped.items()
    ]
    return RetrievalRows(queries, documents, labels)


def read_pairs(
    path: str | Path, *, query_field: str = "query", positive_field: str = "positive",
    negative_field: str | None = "negative",
) -> RetrievalRows:  # fmt: skip
    """A pairs file: `query`, `positive` and optionally `negative` texts a row. Documents get ids from a
    digest of their text, so a text that is a positive in one row and a negative in another is one document.

    Example::

        rows = read_pairs("faq-pairs.csv", query_field="question", positive_field="answer")
    """
    from embedlab.data.documents import iter_documents

    if negative_field:  # optional: kept when the file's first row has it
        first = next(iter_documents(path, None, positive_field), (0, {}))[1]
        negative_field = negative_field if negative_field in first else None
    keep = [query_field] + ([negative_field] if negative_field else [])
    positives: dict[str, list[str]] = defaultdict(list)
    negatives: dict[str, list[str]] = defaultdict(list)
    documents: dict[str, str] = {}
    for number, row in iter_documents(path, None, positive_field, keep=keep):
        query = _text_field(row, query_field, path, number)
        doc_id = _doc_id(row["text"])
        documents[doc_id] = row["text"]
        if doc_id not in positives[query]:
            positives[query].append(doc_id)
        negative = row.get(negative_field) if negative_field else None
        if negative not in (None, ""):
            text = _text_field(row, negative_field, path, number)  # type: ignore[arg-type]
            documents.setdefault(_doc_id(text), text)
            negatives[query].append(text)
    queries = [QueryRow(q, tuple(ids), tuple(negatives.get(q, ()))) for q, ids in positives.items()]
    return RetrievalRows(queries, documents, {})


def read_retrieval_files(
    queries: str | Path,
    documents: str | Path,
    *,
    qrels: str | Path | None = None,
    relevant_field: str | None = None,
    query_id_field: str = "id",
    query_field: str = "text",
    id_field: str = "id",
    document_field: str = "text",
    name: str | None = None,
    split: str = "test",
) -> RetrievalTask:
    """A user's own evaluation set as a `RetrievalTask`: a queries file and a documents file (JSONL, CSV,
    TSV, Parquet), with relevance either as a `qrels` file (query-id, document-id, grade: BEIR's TSV) or as
    a `relevant_field` of the queries naming a document id (a list of ids, or one row per relevant
    document). Every problem is one `DataError` naming file, line and field: a duplicate document id, a
    relevant id that is not a document, a query id given two texts, a query with no relevant document.

    Example::

        task = read_retrieval_files("questions.csv", "faq.jsonl", relevant_field="answer_id",
                                    document_field="answer")
        write_beir("data/faq", task)  # then: embedlab eval MODEL --tasks retrieval:data/faq
    """
    from embedlab.data.beir import read_qrels
    from embedlab.data.documents import iter_documents
    from embedlab.errors import EmbedlabError

    if (qrels is None) == (relevant_field is None):
        raise EmbedlabError("give the relevance one way: qrels (a file) or relevant_field (a queries field)")
    corpus: dict[str, str] = {}
    for number, row in iter_documents(documents, id_field, document_field, keep=[]):
        if row["id"] in corpus:
            raise DataError(f"duplicate id {row['id']!r}", path=Path(documents), line=number, field=id_field)
        corpus[row["id"]] = row["text"]
    if not corpus:
        raise DataError("no documents", path=Path(documents))
    texts, judged = _read_queries(Path(queries), corpus, query_id_field, query_field, relevant_field)
    if qrels is not None:
        if not Path(qrels).is_file():
            raise DataError("file not found", path=Path(qrels))
        names = (Path(queries).name, Path(documents).name)
        judged = read_qrels(Path(qrels), texts, corpus, names)
    unjudged = [key for key in texts if key not in judged]
    if relevant_field and unjudged:
        raise DataError(f"query {unjudged[0]!r} names no relevant document", path=Path(queries),
                        field=relevant_field)  # fmt: skip
    return RetrievalTask(name or Path(documents).stem.split(".")[0], split,
                         {key: texts[key] for key in judged}, corpus, judged)  # fmt: skip


def _read_queries(
    path: Path, corpus: dict[str, str], id_field: str, text_field: str, relevant_field: str | None
) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    from embedlab.data.documents import iter_documents

    texts: dict[str, str] = {}
    judged: dict[str, dict[str, int]] = {}
    for number, row in iter_documents(
        path, id_field, text_field, keep=[relevant_field] if relevant_field else []
    ):
        key = row["id"]
        if texts.setdefault(key, row["text"]) != row["text"]:
            raise DataError(f"query {key!r} has two texts", path=path, line=number, field=text_field)
        if relevant_field is None:
            continue
        value = row.get(relevant_field)
        ids = value if isinstance(value, list) else [] if value in (None, "") else [value]
        for doc in ids:
            if isinstance(doc, bool) or not isinstance(doc, str | int) or str(doc) not in corpus:
                raise DataError(f"{doc!r} is not a document id", path=path, line=number, field=relevant_field)
            judged.setdefault(key, {})[str(doc)] = 1
    if not texts:
        raise DataError("no queries", path=path)
    return texts, judged


def _doc_id(text: str) -> str:
    return "d" + content_digest(text, length=16)


def _text_field(row: dict, name: str, path: str | Path, number: int) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        what = "missing" if value is None else "empty" if not value else f"not text ({type(value).__name__})"
        raise DataError(f"{what}; the field mapping names it", path=Path(path), line=number, field=name)
    return value


@dataclass(frozen=True)
class QuerySplits:
    """Training queries; dev queries (choose the checkpoint); held-out test queries (report)."""

    train: list[QueryRow]
    dev: RetrievalTask
    test: RetrievalTask


def split_queries(
    rows: RetrievalRows,
    *,
    held_out: float = 0.1,
    dev_queries: int = 300,
    corpus_size: int = 10_000,
    seed: int = 42,
    name: str = "held-out",
) -> QuerySplits:
    """Queries split by a hash of (seed, query): `held_out` of them for the test task, `dev_queries` of the
    rest (at most a fifth of it) for checkpoint choice, the others for training; the documents of dev and
    test queries are never trained on. Each task searches its queries' documents plus a seeded sample of the
    others, up to `corpus_size` documents (the test task at least all its own).

    Example::

        splits = split_queries(rows, held_out=0.1, seed=42)
        len(splits.train), len(splits.test.queries)
    """
    if not 0 < held_out < 1:
        raise DataError(f"held_out={held_out}: a fraction between 0 and 1")
    ranked = sorted(rows.queries, key=lambda row: content_digest([seed, row.query]))
    test_count = max(1, round(held_out * len(ranked)))
    # at most a fifth of what is left: on a small corpus the dev queries must not eat the training pairs
    dev_count = min(dev_queries, (len(ranked) - test_count) // 5)
    test, dev = ranked[:test_count], ranked[test_count : test_count + dev_count]
    train = ranked[test_count + dev_count :]
    if not train:
        raise DataError(f"{len(ranked)} queries leave none to train on; give more data or lower held_out")
    kept_out = {doc for row in test + dev for doc in row.positives}
    train = [row for row in train if not kept_out.intersection(row.positives)]
    others = sorted(set(rows.documents) - kept_out)
    random.Random(seed).shuffle(others)
    return QuerySplits(
        train=train,
        dev=_task(f"{name}-dev", "dev", dev, rows.documents, others, corpus_size),
        test=_task(name, "test", test, rows.documents, others, corpus_size),
    )


def _task(name, split, queries: list[QueryRow], documents, others: list[str], size: int) -> RetrievalTask:
    own = list(dict.fromkeys(doc for row in queries for doc in row.positives))
    ids = own + others[: max(0, size - len(own))]
    return RetrievalTask(
        name,
        split,
        queries={f"q{i}": row.query for i, row in enumerate(queries)},
        corpus={doc: documents[doc] for doc in ids},
        qrels={f"q{i}": dict.fromkeys(row.positives, 1) for i, row in enumerate(queries)},
    )


def training_pairs(queries: list[QueryRow], documents: dict[str, str]) -> list[dict]:
    """One (anchor, positive[, negative], label) row per query and relevant document: what MNRL trains on.

    Example::

        training_pairs(splits.train, rows.documents)[0]  # {"anchor": "...", "positive": "...", ...}
    """
    pairs = []
    for row in queries:
        for index, doc in enumerate(row.positives):
            pair = {"anchor": row.query, "positive": documents[doc], "label": row.label}
            if row.negatives:
                pair["negative"] = row.negatives[index % len(row.negatives)]
            pairs.append(pair)
    return pairs
