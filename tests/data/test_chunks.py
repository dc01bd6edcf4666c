"""Token-aware chunks: windows cover the whole text, overlap as asked, and their offsets round-trip."""

from __future__ import annotations

import pytest

from embedlab.data.chunks import chunk_documents, chunk_spans, chunking_for
from embedlab.errors import EmbedlabError


def word_offsets(text: str) -> list[tuple[int, int]]:
    """Whitespace 'tokens' with their character spans: a tokenizer whose answer is easy to check."""
    spans, position = [], 0
    for word in text.split():
        start = text.index(word, position)
        spans.append((start, start + len(word)))
        position = start + len(word)
    return spans


def test_windows_overlap_and_cover_every_token():
    offsets = [(i * 3, i * 3 + 2) for i in range(10)]
    assert chunk_spans(offsets, window=4, overlap=1) == [(0, 11), (9, 20), (18, 29)]
    assert chunk_spans(offsets, window=20, overlap=5) == [(0, 29)]
    assert chunk_spans([], window=4, overlap=1) == []


def test_chunk_offsets_round_trip_and_keep_the_document_id_and_metadata():
    text = " ".join(f"w{i}" for i in range(25))
    rows = chunk_documents(
        [{"id": "doc", "text": text, "year": 2020}, {"id": "short", "text": "two words"}],
        word_offsets,
        window=10,
        overlap=2,
    )
    long_rows = [r for r in rows if r["doc_id"] == "doc"]
    assert [r["id"] for r in long_rows] == ["doc#0", "doc#1", "doc#2"]
    assert all(r["text"] == text[r["start"] : r["end"]] and r["year"] == 2020 for r in long_rows)
    assert long_rows[0]["text"].split()[-2:] == long_rows[1]["text"].split()[:2]  # two words shared
    assert long_rows[-1]["end"] == len(text)  # nothing dropped at the end
    assert rows[-1] == {"id": "short", "doc_id": "short", "start": 0, "end": 9, "text": "two words"}


def test_chunking_fits_the_model_and_checks_its_options():
    assert chunking_for(256) == {"window": 254, "overlap": 32}
    assert chunking_for(0) is None  # a static model reads any length
    with pytest.raises(EmbedlabError, match="chunk_tokens=300"):
        chunking_for(256, 300)
    with pytest.raises(EmbedlabError, match="chunk_overlap=64"):
        chunking_for(256, 64, 64)


def test_real_tokenizer_offsets_round_trip(tiny_model_dir):
    from embedlab.runtime.encoder import TorchEncoder

    encoder = TorchEncoder(tiny_model_dir)
    text = "A man plays guitar. " * 30
    rows = chunk_documents([{"id": "d", "text": text}], encoder.token_offsets, window=16, overlap=4)
    assert len(rows) > 3 and all(r["text"] == text[r["start"] : r["end"]] for r in rows)
    assert all(len(encoder.token_offsets(r["text"])) <= 16 for r in rows)
