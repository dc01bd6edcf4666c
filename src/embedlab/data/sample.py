"""A small sample to follow the tour with: arXiv papers (their metadata is CC0) as the files every command
takes — documents, questions, new documents to label — written by `embedlab data sample --out DIR`.

Made from the arXiv papers embedlab already reads (`$EMBEDLAB_DATA_DIR/arxiv/papers.jsonl.gz`), not shipped
inside the package: data files stay out of the repository. The same seed gives the same files.

    write_sample("sample")  # sample/papers.jsonl, questions.jsonl, new-papers.jsonl, README.md
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from embedlab.data.arxiv import SetAside, default_arxiv_path, read_papers
from embedlab.errors import DataError
from embedlab.io import output_dir

KIND = "sample data"
COPIES = 20  # papers planted again, lightly edited, so `dedup` has something real to find

README = """# embedlab sample data

Made by `embedlab data sample` from arXiv metadata (titles, abstracts, categories; CC0 1.0, arXiv's licence
for metadata), seed {seed}. Every file is JSON Lines with an `id` and a `text` field.

| file | rows | what it is for |
|---|---:|---|
| papers.jsonl | {papers:,} | the corpus: `text` is the abstract; `title`, `subject`, `category`, `year` too |
| questions.jsonl | {questions:,} | titles of {questions:,} of those papers (`answer`: the paper's id) |
| new-papers.jsonl | {new:,} | papers not in the corpus, to label with a classifier |

papers.jsonl holds {copies} planted near-copies (ids ending in `-copy`: another paper's abstract with its case
and spacing changed), for `embedlab dedup` to find.
"""


def write_sample(
    out: str | Path,
    *,
    papers: int = 2000,
    questions: int = 200,
    new: int = 200,
    seed: int = 42,
    source: str | Path | None = None,
    force: bool = False,
) -> dict:
    """Write the tour's files into `out` (a new folder; an earlier sample only with `force`): `papers`
    papers spread evenly over the subjects, `questions` of their titles, `new` other papers. Returns the
    counts.

    Example::

        write_sample("sample", papers=500)  # {"papers": 520, "questions": 200, "new": 200}
    """
    if papers < 2 * COPIES or questions > papers or min(questions, new) < 0:
        raise DataError(f"papers={papers}: at least {2 * COPIES}, and questions={questions} at most that")
    path = Path(source) if source is not None else default_arxiv_path()
    if not path.is_file():
        raise DataError("arXiv papers not found (set EMBEDLAB_DATA_DIR, or give source=)", path=path)
    chosen, others = _spread(read_papers(path, "subject", SetAside()), papers, new, seed)
    rng = random.Random(seed)
    corpus = [_document(p) for p in chosen]
    corpus += [_copy(document, rng) for document in rng.sample(corpus, COPIES)]
    asked = [
        {"id": f"q-{p['id']}", "text": p["title"], "answer": p["id"]} for p in rng.sample(chosen, questions)
    ]
    counts = {"papers": len(corpus), "questions": len(asked), "new": len(others)}
    with output_dir(out, kind=KIND, force=force, inputs=[path]) as staging:
        for name, rows in (
            ("papers", corpus),
            ("questions", asked),
            ("new-papers", [_document(p) for p in others]),
        ):
            with (staging / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (staging / "README.md").write_text(
            README.format(seed=seed, copies=COPIES, **counts), encoding="utf-8"
        )
    return counts


def _spread(found: list[dict], papers: int, new: int, seed: int) -> tuple[list[dict], list[dict]]:
    """`papers` papers taking turns over the subjects (so every subject is there), and `new` others."""
    by_subject: dict[str, list[dict]] = defaultdict(list)
    for paper in found:
        by_subject[paper["label"]].append(paper)
    rng = random.Random(seed)
    for group in by_subject.values():
        rng.shuffle(group)
    ordered = [group[i] for i in range(max(map(len, by_subject.values()), default=0))
               for group in by_subject.values() if i < len(group)]  # fmt: skip
    if len(ordered) < papers + new:
        raise DataError(f"{len(ordered):,} papers found; the sample needs papers + new = {papers + new:,}")
    return ordered[:papers], ordered[papers : papers + new]


def _document(paper: dict) -> dict:
    return {"id": paper["id"], "text": paper["abstract"], "title": paper["title"], "subject": paper["label"],
            "category": paper["primary_category"], "year": paper["year"]}  # fmt: skip


def _copy(document: dict, rng: random.Random) -> dict:
    """A near-copy: the same abstract, its case changed and a space doubled (what a re-crawl looks like)."""
    words = document["text"].split(" ")
    spot = rng.randrange(len(words))
    words[spot] = words[spot] + " "
    return {**document, "id": f"{document['id']}-copy", "text": " ".join(words).lower()}
