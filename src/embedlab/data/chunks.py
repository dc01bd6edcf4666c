"""Token-aware chunks of long documents: windows of the model's own tokens, overlapping, covering the whole
text (nothing silently truncated), each with its character offsets so a hit can be shown in place.
"""

from __future__ import annotations

from collections.abc import Callable


def chunk_spans(offsets: list[tuple[int, int]], window: int, overlap: int) -> list[tuple[int, int]]:
    """Character spans (start, end) of consecutive windows of `window` tokens, `overlap` tokens shared.

    `offsets` are the tokens' character spans (a tokenizer's offset mapping, without special tokens).

    Example::

        chunk_spans([(0, 1), (2, 5), (6, 9), (10, 12)], window=2, overlap=1)  # [(0, 5), (2, 9), (6, 12)]
    """
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"chunk window {window} and overlap {overlap}: need 0 ≤ overlap < window")
    if not offsets:
        return []
    step = window - overlap
    spans = []
    for start in range(0, len(offsets), step):
        piece = offsets[start : start + window]
        spans.append((piece[0][0], piece[-1][1]))
        if start + window >= len(offsets):
            break
    return spans


def chunk_documents(
    documents: list[dict],
    offsets: Callable[[str], list[tuple[int, int]]],
    *,
    window: int,
    overlap: int,
) -> list[dict]:
    """One row per chunk: `id` (`DOC#N`, or the document's id when it fits one window), `doc_id`, `start`,
    `end`, the chunk's `text`, and the document's other fields (metadata for filters).

    Example::

        rows = chunk_documents(docs, encoder.token_offsets, window=256, overlap=32)
        rows[0]["text"] == docs[0]["text"][rows[0]["start"] : rows[0]["end"]]  # True
    """
    rows = []
    for document in documents:
        text = document["text"]
        spans = chunk_spans(offsets(text), window, overlap) or [(0, len(text))]
        metadata = {k: v for k, v in document.items() if k not in ("id", "text")}
        for number, (start, end) in enumerate(spans):
            chunk_id = document["id"] if len(spans) == 1 else f"{document['id']}#{number}"
            rows.append(
                {
                    "id": chunk_id,
                    "doc_id": document["id"],
                    "start": start,
                    "end": end,
                    "text": text[start:end],
                    **metadata,
                }
            )
    return rows


SPECIAL_TOKENS = 2  # [CLS] and [SEP] (or <s> and </s>) take two of the model's positions
DEFAULT_OVERLAP = 32


def chunking_for(
    max_seq_length: int, window: int | None = None, overlap: int = DEFAULT_OVERLAP
) -> dict | None:
    """The chunking an index records: a window that fits the model (so nothing is truncated) and an overlap;
    None for a model without a length limit (a static model embeds any length whole).

    Example::

        chunking_for(256)  # {"window": 254, "overlap": 32}
    """
    from embedlab.errors import EmbedlabError

    if max_seq_length <= 0 and window is None:
        return None
    limit = max_seq_length - SPECIAL_TOKENS if max_seq_length > 0 else None
    window = window or limit
    assert window is not None
    if limit is not None and window > limit:
        raise EmbedlabError(f"chunk_tokens={window}: the model reads at most {limit} tokens per text")
    if not 0 <= overlap < window:
        raise EmbedlabError(f"chunk_overlap={overlap}: must be at least 0 and below the window ({window})")
    return {"window": window, "overlap": overlap}


def rows_for_index(documents: list[dict], encoder, chunking: dict | None) -> list[dict]:
    """The rows an index holds for `documents`: token-aware chunks in the encoder's own tokens when the index
    records a chunking (`chunking_for`), else the documents as they are.

    Example::

        rows = rows_for_index(docs, encoder, chunking_for(encoder.max_seq_length))
    """
    return chunk_documents(documents, encoder.token_offsets, **chunking) if chunking else documents
