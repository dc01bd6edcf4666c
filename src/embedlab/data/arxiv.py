"""arXiv-style corpora (title, abstract, categories) → cleaned, labelled, stratified train/eval/test splits.

`prepare_arxiv` writes DIR/{train,eval,test}.parquet and DIR/manifest.json (counts per label and split, the
records it set aside and why). Nothing is dropped silently: every record left out is counted under a reason,
and the first few of each reason are named by file and line.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from embedlab.errors import DataError
from embedlab.io import atomic_dir, check_output_dir, content_digest, sha256_file
from embedlab.paths import data_dir

SPLITS = ("train", "eval", "test")
KIND = "arXiv splits"  # the kind of folder `prepare_arxiv` makes (embedlab.io ownership)
LabelLevel = Literal["subject", "category"]
COLUMNS = ("id", "title", "abstract", "label", "primary_category", "primary_subject", "year")
EXAMPLES_PER_REASON = 5


@dataclass(frozen=True)
class ArxivSettings:
    """How papers are labelled and split.

    Example::

        ArxivSettings(label_level="subject", min_papers=100, eval_fraction=0.05, test_fraction=0.10)
    """

    label_level: LabelLevel = "subject"  # subject: archive such as `math`; category: such as `math.PR`
    min_papers: int = 100  # labels with fewer papers (after cleaning) are set aside
    eval_fraction: float = 0.05
    test_fraction: float = 0.10
    seed: int = 42

    def __post_init__(self) -> None:
        if self.label_level not in ("subject", "category"):
            raise DataError(f"label_level must be 'subject' or 'category', got {self.label_level!r}")
        if not (0 < self.eval_fraction < 1 and 0 < self.test_fraction < 1):
            raise DataError("eval_fraction and test_fraction must lie strictly between 0 and 1")
        if self.eval_fraction + self.test_fraction >= 1:
            raise DataError("eval_fraction + test_fraction must leave papers for training")


@dataclass
class SetAside:
    """Records left out, by reason, with a few located examples of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, reason: str, where: str) -> None:
        """Count one dropped paper under `reason`, keeping a few examples of where."""
        self.counts[reason] += 1
        if len(self.examples[reason]) < EXAMPLES_PER_REASON:
            self.examples[reason].append(where)


def default_arxiv_path() -> Path:
    """`$EMBEDLAB_DATA_DIR/arxiv/papers.jsonl.gz`; a clear error when no data folder is set.

    Example::

        path = default_arxiv_path()
    """
    root = data_dir()
    if root is None:
        raise DataError("no data folder: set EMBEDLAB_DATA_DIR to the folder holding arxiv/papers.jsonl.gz")
    return root / "arxiv" / "papers.jsonl.gz"


def normalise_text(text: str) -> str:
    """Unicode NFC, whitespace runs (line breaks included) collapsed to one space, ends trimmed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def _dedup_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _open_lines(path: Path):
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", encoding="utf-8")
        return path.open(encoding="utf-8")
    except OSError as error:
        raise DataError(f"cannot read file: {error.strerror}", path=path) from None


def _label(record: dict, level: LabelLevel) -> str | None:
    category = record.get("primary_category")
    if not category and isinstance(record.get("categories"), list) and record["categories"]:
        category = record["categories"][0]
    if not isinstance(category, str) or not category.strip():
        return None
    if level == "category":
        return category.strip()
    subject = record.get("primary_subject")
    return subject.strip() if isinstance(subject, str) and subject.strip() else category.split(".")[0]


def read_papers(path: Path, level: LabelLevel, set_aside: SetAside) -> list[dict]:
    """Clean papers in file order; malformed, empty and duplicate records go to `set_aside`."""
    papers: list[dict] = []
    seen_ids: set[str] = set()
    seen_titles: set[str] = set()
    seen_abstracts: set[str] = set()
    with _open_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                set_aside.add("invalid JSON", f"{where} ({error.msg})")
                continue
            if not isinstance(record, dict):
                set_aside.add("not a JSON object", where)
                continue
            problem = next(
                (
                    name
                    for name in ("id", "title", "abstract")
                    if not isinstance(record.get(name), str | int) or isinstance(record.get(name), bool)
                ),
                None,
            )
            if problem:
                set_aside.add(f"missing or non-text field '{problem}'", where)
                continue
            label = _label(record, level)
            if label is None:
                set_aside.add("missing field 'primary_category'", where)
                continue
            title, abstract = normalise_text(str(record["title"])), normalise_text(str(record["abstract"]))
            if not title or not abstract:
                set_aside.add("empty title or abstract", where)
                continue
            paper_id = str(record["id"]).strip()
            title_key, abstract_key = _dedup_key(title), _dedup_key(abstract)
            if paper_id in seen_ids or title_key in seen_titles or abstract_key in seen_abstracts:
                set_aside.add("duplicate (id, title or abstract seen before)", where)
                continue
            seen_ids.add(paper_id)
            seen_titles.add(title_key)
            seen_abstracts.add(abstract_key)
            category = _label(record, "category")
            year = record.get("year")
            papers.append(
                {
                    "id": paper_id,
                    "title": title,
                    "abstract": abstract,
                    "label": label,
                    "primary_category": category,
                    "primary_subject": _label(record, "subject"),
                    "year": int(year) if isinstance(year, int) and not isinstance(year, bool) else None,
                }
            )
    return papers


def stratified_split(labels: list[str], settings: ArxivSettings) -> dict[str, list[int]]:
    """Indices per split, stratified by label: every label keeps its share in every split."""
    from sklearn.model_selection import train_test_split

    positions = list(range(len(labels)))
    held_out = settings.eval_fraction + settings.test_fraction
    train, rest = train_test_split(positions, test_size=held_out, stratify=labels, random_state=settings.seed)
    rest_labels = [labels[i] for i in rest]
    evaluation, test = train_test_split(
        rest, test_size=settings.test_fraction / held_out, stratify=rest_labels, random_state=settings.seed
    )
    return {"train": sorted(train), "eval": sorted(evaluation), "test": sorted(test)}


def prepare_arxiv(
    path: str | Path, out: str | Path, settings: ArxivSettings | None = None, *, force: bool = True
) -> dict:
    """Clean, label, filter and split; write the splits as Parquet plus a manifest, atomically.
    Returns the manifest. An earlier preparation in `out` is replaced (derived data) unless `force=False`.

    Example::

        manifest = prepare_arxiv("papers.jsonl.gz", "data/arxiv")
        manifest["per_label"]["math"]  # {"train": ..., "eval": ..., "test": ...}
    """
    settings = settings or ArxivSettings()
    path, out = Path(path), Path(out)
    check_output_dir(out, kind=KIND, force=force, inputs=[path])
    set_aside = SetAside()
    papers = read_papers(path, settings.label_level, set_aside)
    sizes = Counter(p["label"] for p in papers)
    small = {label for label, count in sizes.items() if count < settings.min_papers}
    for paper in papers:
        if paper["label"] in small:
            set_aside.add(
                f"label with fewer than {settings.min_papers} papers", f"{paper['label']} {paper['id']}"
            )
    papers = [p for p in papers if p["label"] not in small]
    labels = sorted({p["label"] for p in papers})
    if len(labels) < 2:
        raise DataError(
            f"only {len(labels)} label(s) with at least {settings.min_papers} papers; "
            "lower min_papers or use more data",
            path=path,
        )
    splits = stratified_split([p["label"] for p in papers], settings)

    with atomic_dir(out, kind=KIND) as staging:
        return _write_splits(staging, papers, labels, splits, path, settings, set_aside)


def _write_splits(staging: Path, papers, labels, splits, path: Path, settings, set_aside) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    per_label: dict[str, dict[str, int]] = {label: dict.fromkeys(SPLITS, 0) for label in labels}
    for split, positions in splits.items():
        rows = [papers[i] for i in positions]
        for row in rows:
            per_label[row["label"]][split] += 1
        table = pa.Table.from_pylist(rows, schema=_schema())
        pq.write_table(table, staging / f"{split}.parquet")
    manifest = {
        "format": 1,
        "source": str(path),
        "source_sha256": sha256_file(path),
        "settings": settings.__dict__,
        "papers": len(papers),
        "labels": len(labels),
        "splits": {split: len(positions) for split, positions in splits.items()},
        "per_label": per_label,
        "set_aside": dict(set_aside.counts),
        "set_aside_examples": dict(set_aside.examples),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("abstract", pa.string()),
            ("label", pa.string()),
            ("primary_category", pa.string()),
            ("primary_subject", pa.string()),
            ("year", pa.int32()),
        ]
    )


def load_split(directory: str | Path, split: str) -> list[dict]:
    """The papers of one split (`train`, `eval` or `test`) of a split folder.

    Example::

        test = load_split("runs/arxiv-demo/data", "test")
        test[0]["title"], test[0]["label"]
    """
    import pyarrow.parquet as pq

    if split not in SPLITS:
        raise DataError(f"unknown split '{split}'; choose one of {', '.join(SPLITS)}")
    path = Path(directory) / f"{split}.parquet"
    if not path.is_file():
        raise DataError(f"no {split} split here; prepare it with `embedlab data arxiv`", path=path)
    return pq.read_table(path).to_pylist()


def default_prepared_dir() -> Path:
    """The default arXiv splits (default settings, default source), prepared on first use into the cache."""
    from embedlab.paths import cache_dir

    source = default_arxiv_path()
    settings = ArxivSettings()
    key = content_digest([sha256_file(source), settings.__dict__], length=12)
    prepared = cache_dir() / "arxiv" / key
    if not (prepared / "manifest.json").is_file():
        prepare_arxiv(source, prepared, settings)
    return prepared


RETRIEVAL_TASKS = ("arxiv-title-abstract", "arxiv-title-category")


def arxiv_retrieval_tasks(papers: list[dict], split: str = "test") -> list:
    """The built-in retrieval tasks on arXiv papers (a split of `prepare_arxiv`): each title is a query over
    every abstract. `arxiv-title-abstract`: the paper's own abstract is the one relevant document.
    `arxiv-title-category`, graded: the own abstract 2, the other abstracts of its primary category 1.

    Example::

        own, category = arxiv_retrieval_tasks(load_split(default_prepared_dir(), "test"))
    """
    from embedlab.data.beir import RetrievalTask

    queries = {f"q{p['id']}": p["title"] for p in papers}
    corpus = {p["id"]: p["abstract"] for p in papers}
    by_category: dict[str, list[str]] = defaultdict(list)
    for paper in papers:
        by_category[paper["primary_category"]].append(paper["id"])
    own = {f"q{p['id']}": {p["id"]: 1} for p in papers}
    graded = {
        f"q{p['id']}": {d: 2 if d == p["id"] else 1 for d in by_category[p["primary_category"]]}
        for p in papers
    }
    return [
        RetrievalTask(RETRIEVAL_TASKS[0], split, queries, corpus, own),
        RetrievalTask(RETRIEVAL_TASKS[1], split, queries, corpus, graded),
    ]


def write_arxiv_retrieval(
    out: str | Path, *, split: str = "test", arxiv_dir: str | Path | None = None, force: bool = False
) -> list[Path]:
    """Write the built-in arXiv retrieval tasks in the BEIR layout into `out` (one folder each), from the
    arXiv splits in `arxiv_dir` (default: the default splits, prepared once, cached): what `embedlab data
    retrieval` does.

    Example::

        write_arxiv_retrieval("tasks")  # tasks/arxiv-title-abstract, tasks/arxiv-title-category
    """
    from embedlab.data.beir import write_beir_files
    from embedlab.io import output_dir

    out = Path(out)
    check_output_dir(out, kind="retrieval tasks", force=force)
    tasks = arxiv_retrieval_tasks(load_split(arxiv_dir or default_prepared_dir(), split), split)
    with output_dir(out, kind="retrieval tasks", force=force) as staging:
        for task in tasks:
            (staging / task.name).mkdir()
            write_beir_files(staging / task.name, task)
    return [out / task.name for task in tasks]
