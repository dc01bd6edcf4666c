"""Unlabelled sentences for tokenizer training, SimCSE and distillation, from named training sources or files.

Named sources (read from the data folder): `stsb:train`, `sickr:train`, `snli:dev`, `snli:train-sample`,
`mnli:train-sample`, `mrpc:train`, `arxiv` (abstracts split into sentences, titles too). Any other entry is a
file: text (one sentence per line), JSONL(.gz) or CSV/Parquet with a `text` column (or `--field`).
Sentences of every benchmark's evaluation sides (STS-B dev/test, SICK-R, STS12–16) are removed, so a model
trained on these sentences is never trained on what it is tested on.

The NLI sources also give labelled pairs: `entailment_pairs` (premise → entailed hypothesis), the positives of
supervised SimCSE / SBERT's NLI stage.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from embedlab.data.sts import STS_SUITE, get_task
from embedlab.data.sts import sentences as sts_sentences
from embedlab.errors import DataError
from embedlab.paths import data_dir

NAMED = (
    "stsb:train",
    "sickr:train",
    "snli:dev",
    "snli:train-sample",
    "mnli:train-sample",
    "mrpc:train",
    "arxiv",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$\\(\[])")
NLI_FILES = {
    "snli:dev": "snli_dev.jsonl.gz",
    "snli:test": "snli_test.jsonl.gz",
    "mnli:dev-matched": "mnli_dev_matched.jsonl.gz",
    "mnli:dev-mismatched": "mnli_dev_mismatched.jsonl.gz",
    "snli:train-sample": "snli_train_sample.jsonl.gz",
    "mnli:train-sample": "mnli_train_sample.jsonl.gz",
}


def split_sentences(text: str, min_chars: int = 20) -> list[str]:
    """Sentences of an abstract: split after . ! ? before a capital, formula or bracket;
    fragments shorter than `min_chars` are dropped.
    """
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.strip()) >= min_chars]


def _root() -> Path:
    root = data_dir()
    if root is None:
        raise DataError("no data folder: set EMBEDLAB_DATA_DIR to use named sentence sources")
    return root


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as error:
                        raise DataError(f"invalid JSON: {error.msg}", path=path, line=number) from None
    except OSError as error:
        raise DataError(f"cannot read file: {error.strerror}", path=path) from None


def _named(source: str) -> Iterable[str]:
    if source in ("stsb:train", "sickr:train"):
        task, split = source.split(":")
        return sts_sentences(task, split)
    if source in NLI_FILES:
        path = _root() / "nli" / NLI_FILES[source]
        return (text for _, row in _jsonl(path) for text in (row["premise"], row["hypothesis"]))
    if source == "mrpc:train":
        from embedlab.data.paraphrase import load_mrpc

        pairs = load_mrpc("train", _root())
        return (text for pair in zip(pairs["sentence1"], pairs["sentence2"], strict=True) for text in pair)
    if source == "arxiv":
        path = _root() / "arxiv" / "papers.jsonl.gz"
        return (text for _, row in _jsonl(path) for text in (row["title"], *split_sentences(row["abstract"])))
    raise DataError(f"unknown sentence source '{source}'; named sources: {', '.join(NAMED)}")


def _file(path: Path, fields: list[str]) -> Iterable[str]:
    if not path.is_file():
        raise DataError("file not found", path=path)
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        for number, row in _jsonl(path):
            for field in fields:
                value = row.get(field) if isinstance(row, dict) else None
                if not isinstance(value, str):
                    raise DataError("missing or non-text field", path=path, line=number, field=field)
                yield value
    elif name.endswith((".csv", ".tsv", ".parquet")):
        from embedlab.data.documents import load_documents

        for document in load_documents(path, id_field=None, text_field=fields[0]):
            yield document["text"]
    else:
        with path.open(encoding="utf-8") as handle:
            yield from (line.rstrip("\n") for line in handle)


def iter_texts(sources: Iterable[str], fields: list[str] | None = None) -> Iterator[str]:
    """Texts of each source in order (named sources or files), blanks skipped, whitespace collapsed."""
    for source in sources:
        texts = _named(source) if source in NAMED else _file(Path(source), fields or ["text"])
        for text in texts:
            text = " ".join(text.split())
            if text:
                yield text


def evaluation_sentences() -> set[str]:
    """Every sentence on an evaluation side of the STS suite (and STS-B dev), to be kept out of training."""
    held_out: set[str] = set()
    for task in STS_SUITE:
        for split in get_task(task).splits:
            if split != "train":
                held_out.update(" ".join(s.split()) for s in sts_sentences(task, split))
    return held_out


def collect_sentences(
    sources: Iterable[str], *, limit: int | None = None, seed: int = 42, fields: list[str] | None = None
) -> tuple[list[str], int]:
    """Distinct sentences from the sources, minus evaluation sentences, at most `limit`, shuffled.

    Each source is shuffled on its own and the sources are taken in the order given, so under a limit the
    sources listed first are kept whole and the last ones are sampled. Returns the sentences and how many
    evaluation sentences were removed.
    """
    held_out = evaluation_sentences()
    rng = random.Random(seed)
    seen: set[str] = set()
    kept: list[str] = []
    removed = 0
    for source in sources:
        texts = list(dict.fromkeys(iter_texts([source], fields)))
        rng.shuffle(texts)
        for text in texts:
            if text in held_out:
                removed += 1
            elif text not in seen:
                seen.add(text)
                kept.append(text)
    kept = kept[:limit] if limit else kept
    rng.shuffle(kept)
    return kept, removed


def _nli_rows(sources: Iterable[str]) -> Iterator[tuple[str, str, str]]:
    """(label, premise, hypothesis) of the named NLI sources, whitespace-normalised."""
    for source in sources:
        if source not in NLI_FILES:
            raise DataError(f"unknown NLI source '{source}'; NLI sources: {', '.join(NLI_FILES)}")
        path = _root() / "nli" / NLI_FILES[source]
        for number, row in _jsonl(path):
            try:
                label, premise, hypothesis = row["label"], row["premise"], row["hypothesis"]
            except (KeyError, TypeError):
                raise DataError("needs premise, hypothesis and label", path=path, line=number) from None
            yield label, " ".join(premise.split()), " ".join(hypothesis.split())


def entailment_pairs(
    sources: Iterable[str], *, limit: int | None = None, seed: int = 42
) -> tuple[list[tuple[str, str]], int]:
    """Distinct (premise, hypothesis) pairs labelled `entailment` in the named NLI sources, minus pairs with a
    sentence on an evaluation side (SICK and SNLI share image-caption sentences), at most `limit`, shuffled.
    Returns the pairs and how many were removed as evaluation pairs.
    """
    held_out = evaluation_sentences()
    pairs: dict[tuple[str, str], None] = {}
    removed = 0
    for label, premise, hypothesis in _nli_rows(sources):
        if label != "entailment":
            continue
        if premise in held_out or hypothesis in held_out:
            removed += 1
        else:
            pairs[(premise, hypothesis)] = None
    kept = list(pairs)
    random.Random(seed).shuffle(kept)
    return kept[:limit] if limit else kept, removed


def nli_triplets(
    sources: Iterable[str], *, limit: int | None = None, seed: int = 42
) -> tuple[list[tuple[str, str, str]], int]:
    """(premise, entailed hypothesis, contradicting hypothesis) for every premise that has both — the
    contradiction is a hard negative (the SBERT/SimCSE "AllNLI" recipe) — minus triplets with a sentence on
    an evaluation side, at most `limit`, shuffled. Returns the triplets and how many were removed.

    Example::

        triplets, removed = nli_triplets(["snli:dev", "mnli:dev-matched"])
        triplets[0]  # ("A man plays a guitar.", "A man plays music.", "A man is asleep.")
    """
    held_out = evaluation_sentences()
    entailed: dict[str, dict[str, None]] = {}
    contradicted: dict[str, dict[str, None]] = {}
    for label, premise, hypothesis in _nli_rows(sources):
        if label == "entailment":
            entailed.setdefault(premise, {})[hypothesis] = None
        elif label == "contradiction":
            contradicted.setdefault(premise, {})[hypothesis] = None
    triplets, removed = [], 0
    for premise, positives in entailed.items():
        for positive, negative in zip(positives, contradicted.get(premise, {}), strict=False):
            if {premise, positive, negative} & held_out:
                removed += 1
            else:
                triplets.append((premise, positive, negative))
    random.Random(seed).shuffle(triplets)
    return triplets[:limit] if limit else triplets, removed
