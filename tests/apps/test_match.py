"""Matching: a tiny FAQ is answered, an unrelated question gets no match, paraphrases are mined."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from embedlab.apps.match import match, match_rows, self_match
from embedlab.cli import app
from embedlab.errors import EmbedlabError
from tests.corpora import BagOfWordsEncoder

ANSWERS = [
    "reset your password from the account settings page",
    "refunds are paid back to the card within five days",
    "the shop opens at nine and closes at six",
]
QUESTIONS = [
    "how do i reset my password",
    "when are refunds paid back",
    "what time the shop opens and closes",
    "is there parking nearby",
]


def test_faq_questions_find_their_answers_and_an_unrelated_one_finds_none():
    encoder = BagOfWordsEncoder()
    found = match(encoder.encode(QUESTIONS), encoder.encode(ANSWERS), k=1, min_score=0.3)
    assert [m[0].candidate if m else None for m in found] == [0, 1, 2, None]
    rows = match_rows(
        [{"id": f"q{i}", "text": t} for i, t in enumerate(QUESTIONS)],
        [{"id": f"a{i}", "text": t} for i, t in enumerate(ANSWERS)],
        encoder.encode(QUESTIONS),
        encoder.encode(ANSWERS),
        k=2,
        min_score=0.3,
    )
    assert rows[-1] == {
        "query": "q3",
        "candidate": None,
        "score": None,
        "rank": None,
        "query_text": QUESTIONS[3],
        "candidate_text": None,
    }


def test_paraphrase_mining_inside_one_collection():
    texts = [*ANSWERS, "your password is reset from the account settings page"]
    pairs = self_match(BagOfWordsEncoder().encode(texts), min_score=0.6)
    assert [(p.query, p.candidate) for p in pairs] == [(0, 3)]


def test_min_score_outside_the_cosine_range():
    with pytest.raises(EmbedlabError, match="min_score="):
        match(BagOfWordsEncoder().encode(QUESTIONS), BagOfWordsEncoder().encode(ANSWERS), min_score=2)


def test_cli_match_writes_matches_and_refuses_k_beyond_the_candidates(tiny_model_dir, tmp_path):
    queries, candidates = tmp_path / "q.jsonl", tmp_path / "a.jsonl"
    queries.write_text(
        "".join(json.dumps({"id": f"q{i}", "text": t}) + "\n" for i, t in enumerate(QUESTIONS))
    )
    candidates.write_text(
        "".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(ANSWERS))
    )
    runner = CliRunner()
    out = tmp_path / "m"
    result = runner.invoke(
        app,
        [
            "match",
            str(queries),
            str(candidates),
            "-m",
            str(tiny_model_dir),
            "--min-score",
            "-1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "matches.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["candidate"] in {"a0", "a1", "a2"} for r in rows)
    too_many = runner.invoke(
        app, ["match", str(queries), str(candidates), "-m", str(tiny_model_dir), "-k", "5"]
    )
    assert too_many.exit_code == 2 and "holds only 3 candidates" in too_many.stderr
    neither = runner.invoke(app, ["match", str(queries), "-m", str(tiny_model_dir)])
    assert neither.exit_code == 2 and "--self" in neither.stderr
