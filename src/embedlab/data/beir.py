"""Retrieval tasks in the BEIR layout, the format every retrieval benchmark ships in.

    DIR/corpus.jsonl        {"_id": "d1", "title": "...", "text": "..."}  one document a line
    DIR/queries.jsonl       {"_id": "q1", "text": "..."}
    DIR/qrels/<split>.tsv   query-id, corpus-id, score (a header line, then one judgement a line; graded:
                            0 judged not relevant, 1, 2, ... more relevant)

Only the queries the split judges are evaluated (as BEIR and MTEB do). Every problem is one `DataError`
naming file and line: a missing file, a duplicate id, an empty corpus, qrels naming an unknown query or
document, a split that judges no query.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from embedlab.data.records import iter_jsonl
from embedlab.errors import DataError


@dataclass(frozen=True)
class RetrievalTask:
    """Queries, documents and graded relevance (`qrels[query_id][doc_id] = grade`), as BEIR defines them.

    Example::

        task = load_beir("scifact", split="test")
        len(task.queries), len(task.corpus), task.qrels["1"]  # 300, 5183, {"31715818": 1}
    """

    name: str
    split: str
    queries: dict[str, str]
    corpus: dict[str, str]  # title and text joined by a space, as BEIR and MTEB give them to the model
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path, fields: tuple[str, ...]) -> dict[str, dict]:
    if not path.is_file():
        raise DataError(
            "missing: a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv", path=path
        )
    rows: dict[str, dict] = {}
    first: dict[str, int] = {}
    for number, record in iter_jsonl(path):
        key = record.get("_id")
        if isinstance(key, bool) or not isinstance(key, str | int) or str(key) == "":
            raise DataError("missing or bad '_id' (text or an integer)", path=path, line=number, field="_id")
        key = str(key)
        if key in rows:
            raise DataError(f"duplicate _id {key!r} (first at line {first[key]})", path=path, line=number)
        for name in fields:
            if not isinstance(record.get(name, ""), str):
                raise DataError(f"expected text, got {type(record[name]).__name__}", path=path, line=number,
                                field=name)  # fmt: skip
        rows[key], first[key] = record, number
    return rows


def read_qrels(
    path: Path, queries: dict, corpus: dict, names: tuple[str, str] = ("queries.jsonl", "corpus.jsonl")
) -> dict[str, dict[str, int]]:
    """Graded judgements from a qrels TSV (query-id, corpus-id, score; a header line or none), each id
    checked against `queries` and `corpus` (`names`: their files, for the message).

    Example::

        read_qrels(Path("qrels/test.tsv"), queries, corpus)  # {"q1": {"d3": 1}}
    """
    if not path.is_file():
        splits = sorted(p.stem for p in path.parent.glob("*.tsv")) if path.parent.is_dir() else []
        known = f"; this folder has {', '.join(splits)}" if splits else ""
        raise DataError(f"missing: no relevance judgements for this split{known}", path=path)
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if number == 1 and row[:1] and not _is_int(row[-1] if len(row) >= 3 else ""):
                continue  # the header
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3 or not _is_int(row[-1]):
                raise DataError("expected query-id, corpus-id and an integer score", path=path, line=number)
            query, document, grade = row[0], row[-2], int(row[-1])
            if query not in queries:
                raise DataError(f"query {query!r} is not in {names[0]}", path=path, line=number)
            if document not in corpus:
                raise DataError(f"document {document!r} is not in {names[1]}", path=path, line=number)
            qrels.setdefault(query, {})[document] = grade
    if not qrels:
        raise DataError("judges no query", path=path)
    return qrels


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def load_beir(folder: str | Path, split: str = "test") -> RetrievalTask:
    """A BEIR-layout folder as a `RetrievalTask`: the split's judged queries, the whole corpus.

    Example::

        task = load_beir("data/scifact")
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder (a BEIR task is a folder with corpus.jsonl, queries.jsonl, qrels/)",
                        path=folder)  # fmt: skip
    documents = _read_jsonl(folder / "corpus.jsonl", ("title", "text"))
    if not documents:
        raise DataError("the corpus is empty", path=folder / "corpus.jsonl")
    all_queries = _read_jsonl(folder / "queries.jsonl", ("text",))
    corpus = {
        key: f"{row.get('title') or ''} {row.get('text') or ''}".strip() for key, row in documents.items()
    }
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv", all_queries, corpus)
    queries = {key: str(all_queries[key].get("text") or "") for key in qrels}
    empty = [key for key, text in queries.items() if not text.strip()]
    if empty:
        raise DataError(f"query {empty[0]!r} has no text", path=folder / "queries.jsonl", field="text")
    return RetrievalTask(folder.name, split, queries, corpus, qrels)


def write_beir(folder: str | Path, task: RetrievalTask, *, force: bool = False) -> Path:
    """Write `task` in the BEIR layout (what `load_beir` reads) as a new folder: a user's own data, or a
    built-in task, in the exchange format every retrieval tool reads.

    Example::

        write_beir("my-task", RetrievalTask("mine", "test", queries, corpus, qrels))
    """
    from embedlab.io import output_dir

    with output_dir(folder, kind="retrieval task", force=force) as staging:
        write_beir_files(staging, task)
    return Path(folder)


def write_beir_files(folder: Path, task: RetrievalTask) -> None:
    """The three BEIR files of `task` into an existing (staged) `folder`."""
    import json

    docs = task.corpus.items()
    lines = (json.dumps({"_id": k, "title": "", "text": v}, ensure_ascii=False) for k, v in docs)
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = (json.dumps({"_id": k, "text": v}, ensure_ascii=False) for k, v in task.queries.items())
    (folder / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "qrels").mkdir()
    rows = [f"{q}\t{d}\t{g}" for q, judged in task.qrels.items() for d, g in judged.items()]
    (folder / "qrels" / f"{task.split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
