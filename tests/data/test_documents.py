"""Documents for an index: metadata kept, ids checked, numbered by line without an id field."""

from __future__ import annotations

import pytest

from embedlab.data.documents import load_documents
from embedlab.errors import DataError


def test_load_documents_keeps_metadata_and_checks_ids(fixtures, tmp_path):
    docs = load_documents(fixtures / "docs.jsonl")
    assert [d["id"] for d in docs] == ["d1", "d2", "d3", "d4"] and docs[1]["source"] == "news"
    duplicate = tmp_path / "dup.jsonl"
    duplicate.write_text('{"id": 1, "text": "a"}\n{"id": "1", "text": "b"}\n')
    with pytest.raises(DataError, match="duplicate id '1' \\(first at line 1\\)") as caught:
        load_documents(duplicate)
    assert caught.value.line == 2 and caught.value.field == "id"
    empty = tmp_path / "empty.csv"
    empty.write_text("id,text\nx,hello\ny,\n")
    with pytest.raises(DataError, match="line 3, field 'text'"):
        load_documents(empty)


def test_documents_without_an_id_field_are_numbered_by_line(tmp_path):
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("text\nfirst sentence\nsecond sentence\n")
    docs = load_documents(corpus, id_field=None)
    assert [(d["id"], d["text"]) for d in docs] == [("2", "first sentence"), ("3", "second sentence")]
