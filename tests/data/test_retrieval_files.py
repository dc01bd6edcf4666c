"""A user's own evaluation set — queries, documents, relevance — read into a retrieval task and written in
the BEIR layout that `eval --tasks retrieval:DIR` reads."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from embedlab.data.beir import load_beir
from embedlab.data.retrieval_data import read_retrieval_files
from embedlab.errors import DataError, EmbedlabError

DOCUMENTS = [
    {"id": "faq1", "answer": "Reset your password from the login page."},
    {"id": "faq2", "answer": "Invoices are sent on the first day of the month."},
    {"id": 3, "answer": "Two-factor authentication is under account settings."},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def faq(tmp_path):
    documents = write_jsonl(tmp_path / "faq.jsonl", DOCUMENTS)
    queries = tmp_path / "questions.csv"
    queries.write_text(
        "id,question,answer_id\n"
        "q1,how do I change my password,faq1\n"
        "q2,when do bills arrive,faq2\n"
        "q3,where is 2FA,3\n"
        "q3,where is 2FA,faq1\n",  # a second relevant document: the row again
        encoding="utf-8",
    )
    return queries, documents


def test_queries_with_a_relevant_field(faq):
    queries, documents = faq
    task = read_retrieval_files(queries, documents, relevant_field="answer_id", query_field="question",
                                document_field="answer")  # fmt: skip
    assert task.name == "faq"
    assert task.queries == {
        "q1": "how do I change my password", "q2": "when do bills arrive", "q3": "where is 2FA"
    }  # fmt: skip
    assert task.qrels == {"q1": {"faq1": 1}, "q2": {"faq2": 1}, "q3": {"3": 1, "faq1": 1}}
    assert task.corpus["3"].startswith("Two-factor")


def test_queries_with_a_qrels_file_keep_the_grades(faq, tmp_path):
    queries, documents = faq
    qrels = tmp_path / "judged.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tfaq1\t2\nq1\t3\t1\nq2\tfaq2\t1\n", encoding="utf-8")
    task = read_retrieval_files(queries, documents, qrels=qrels, query_field="question",
                                document_field="answer")  # fmt: skip
    assert task.qrels == {"q1": {"faq1": 2, "3": 1}, "q2": {"faq2": 1}}
    assert set(task.queries) == {"q1", "q2"}  # only judged queries are evaluated, as BEIR does


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (
            lambda q, d: q.write_text("id,question,answer_id\nq1,a question,faq9\n"),
            "line 2, field 'answer_id'",
        ),
        (lambda q, d: q.write_text("id,question,answer_id\nq1,one,faq1\nq1,another,faq2\n"), "line 3"),
        (lambda q, d: q.write_text("id,question,answer_id\nq1,one,\n"), "names no relevant document"),
        (lambda q, d: write_jsonl(d, [*DOCUMENTS, {"id": "faq1", "answer": "again"}]), "line 4, field 'id'"),
        (lambda q, d: write_jsonl(d, [{"id": "faq1", "text": "no answer field"}]), "field 'answer'"),
    ],
)
def test_bad_input_is_one_error_naming_file_and_line(faq, edit, where):
    queries, documents = faq
    edit(queries, documents)
    with pytest.raises(DataError) as caught:
        read_retrieval_files(queries, documents, relevant_field="answer_id", query_field="question",
                             document_field="answer")  # fmt: skip
    assert where in str(caught.value)


def test_relevance_is_given_exactly_one_way(faq, tmp_path):
    queries, documents = faq
    with pytest.raises(EmbedlabError, match="qrels"):
        read_retrieval_files(queries, documents)
    with pytest.raises(DataError, match=r"not in questions\.csv"):
        qrels = tmp_path / "judged.tsv"
        qrels.write_text("q9\tfaq1\t1\n", encoding="utf-8")
        read_retrieval_files(queries, documents, qrels=qrels, query_field="question", document_field="answer")


def test_data_retrieval_writes_the_users_task_for_eval(faq, tmp_path, tiny_model_dir):
    from embedlab.cli import app

    queries, documents = faq
    args = ["data", "retrieval", "--queries", str(queries), "--documents", str(documents),
            "--relevant-field", "answer_id", "--query-field", "question", "--document-field", "answer",
            "--out", str(tmp_path / "t")]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    task = load_beir(tmp_path / "t" / "faq")
    assert task.qrels["q3"] == {"3": 1, "faq1": 1}
    out = tmp_path / "records"
    result = CliRunner().invoke(
        app,
        ["eval", str(tiny_model_dir), "--tasks", f"retrieval:{tmp_path / 't' / 'faq'}", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    (written,) = out.glob("*.json")
    assert {r["metric"] for r in json.loads(written.read_text())["records"]} >= {"ndcg@10", "recall@10"}
    again = CliRunner().invoke(app, args)  # the folder is there: refused, not replaced
    assert again.exit_code == 2 and "--force" in again.stderr
    half = CliRunner().invoke(app, [*args[:6], "--out", str(tmp_path / "u")])
    assert half.exit_code == 2 and "--qrels FILE or --relevant-field" in half.stderr
