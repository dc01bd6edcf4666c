"""Documents longer than the model reads, in a retrieval evaluation: truncated (what the model does on its
own — a document is scored by its first `max_seq_length` tokens) or chunked (windows of the model's own
tokens covering the whole text; a document scores as its best chunk, BEIR's max-over-passages). Either way the
records say which, and how many documents were longer (`long_documents`: their percentage, n: their count).

    units = corpus_units(encoder, task.corpus, "chunk")
    units.texts   # what is encoded: every document, or each long one's chunks
    units.starts  # where each document's chunks begin (for `np.maximum.reduceat`), None when truncating
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedlab.evaluate.records import EvalRecord

LONG_DOCUMENTS = ("truncate", "chunk")
METRIC = "long_documents"


@dataclass(frozen=True)
class CorpusUnits:
    """What a retrieval evaluation encodes for a corpus, and how many documents the model could not read
    whole.
    """

    texts: dict[str, str]  # documents, or chunks (`DOC#N`) in document order
    starts: np.ndarray | None  # each document's first chunk; None: one text per document
    long: int  # documents longer than the model reads


def corpus_units(encoder, corpus: dict[str, str], long_documents: str = "truncate") -> CorpusUnits:
    """The texts to encode for `corpus` under `long_documents` ("truncate" or "chunk"). Token lengths are
    cached with the vectors (`cached_vectors`), so a rerun does not tokenize the corpus again; chunking
    tokenizes only the long documents. An encoder without a length limit (a static model) reads all.

    Example::

        corpus_units(encoder, {"d1": "a long text ..."}, "chunk").texts  # {"d1#0": "...", "d1#1": "..."}
    """
    from embedlab.data.chunks import DEFAULT_OVERLAP, SPECIAL_TOKENS, chunk_documents
    from embedlab.errors import EmbedlabError
    from embedlab.evaluate.ir_metrics import cached_vectors

    if long_documents not in LONG_DOCUMENTS:
        raise EmbedlabError(f"long_documents={long_documents!r}: choose {' or '.join(LONG_DOCUMENTS)}")
    limit = max(0, int(getattr(encoder, "max_seq_length", 0) or 0) - SPECIAL_TOKENS)
    if not limit:
        return CorpusUnits(corpus, None, 0)
    lengths = cached_vectors(
        encoder,
        corpus,
        lambda: np.array([[len(encoder.token_offsets(t))] for t in corpus.values()], np.float32),
        kind="token-lengths",
    )[:, 0]
    long = lengths > limit
    if long_documents == "truncate" or not long.any():
        return CorpusUnits(corpus, None, int(long.sum()))
    texts: dict[str, str] = {}
    starts = []
    for (doc, text), is_long in zip(corpus.items(), long, strict=True):
        starts.append(len(texts))
        if not is_long:
            texts[doc] = text
            continue
        rows = chunk_documents([{"id": doc, "text": text}], encoder.token_offsets, window=limit,
                               overlap=min(DEFAULT_OVERLAP, limit // 4))  # fmt: skip
        texts.update((row["id"], row["text"]) for row in rows)
    return CorpusUnits(texts, np.array(starts), int(long.sum()))


def long_documents_record(task: str, split: str, units: CorpusUnits, documents: int) -> EvalRecord:
    """The record that says how many documents were longer than the model reads (value: their percentage).

    Example::

        long_documents_record("retrieval:scifact", "test", units, 5183)  # EvalRecord(..., 21.3, 1104)
    """
    return EvalRecord(task, split, METRIC, 100 * units.long / max(1, documents), units.long)


def long_documents_notes(records) -> list[tuple[EvalRecord, str]]:
    """Each `long_documents` record that counted any, with the sentence that says what became of them (for
    the CLI's output and the model card alike).

    Example::

        long_documents_notes(records)[0][1]  # "1,453 documents (72.7%) longer than the model reads: …"
    """
    return [
        (r, f"{r.n:,} documents ({r.value:.1f}%) longer than the model reads: "
            + ("scored by their best chunk" if r.task.endswith("+chunks") else "truncated"))
        for r in records
        if r.metric == METRIC and r.n
    ]  # fmt: skip
