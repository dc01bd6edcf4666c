"""STS benchmarks in their original release formats: STS-B, SICK-R and SemEval STS12–STS16.

Files are read from the data folder (`EMBEDLAB_DATA_DIR`, see `embedlab.paths.data_dir`); a user without
the folder but with internet gets the Hugging Face hub copies of the same pairs instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset

from embedlab.data.records import PairBuilder, read_text
from embedlab.errors import DataError
from embedlab.paths import data_dir


@dataclass(frozen=True)
class StsTask:
    """One STS benchmark: its folder under the data directory and its split files.

    Example::

        task = get_task("stsb")
        task.splits  # ["train", "validation", "test"]
    """

    name: str
    title: str
    folder: str
    default_split: str
    score_range: tuple[float, float]
    reader: Callable[[Path, str], Dataset]
    files: dict[str, str] = field(default_factory=dict)  # split -> file name (or glob for sts12-16)
    hub: dict[str, tuple[str, str]] = field(default_factory=dict)  # split -> (hub dataset id, hub split)

    @property
    def splits(self) -> list[str]:
        """The names of the splits this task has."""
        return list(self.files)


def _read_stsb(folder: Path, file_name: str) -> Dataset:
    """sts-*.csv: tab-separated, no header, no quoting; score, sentence1, sentence2 in columns 5–7."""
    path = folder / file_name
    pairs = PairBuilder(path)
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < 7:
            raise DataError(
                f"expected at least 7 tab-separated columns, found {len(cells)}", path=path, line=number
            )
        pairs.add(number, {"score": cells[4], "sentence1": cells[5], "sentence2": cells[6]}, _NAMES)
    return pairs.dataset()


def _read_sick(folder: Path, file_name: str) -> Dataset:
    """SICK*.txt: tab-separated with a header (pair_ID, sentence_A, sentence_B, relatedness_score, ...)."""
    path = folder / file_name
    lines = read_text(path).splitlines()
    header = lines[0].split("\t") if lines else []
    for column in ("sentence_A", "sentence_B", "relatedness_score"):
        if column not in header:
            raise DataError("column not found in header", path=path, line=1, field=column)
    pairs = PairBuilder(path)
    names = ("sentence_A", "sentence_B", "relatedness_score")
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            pairs.add(number, dict(zip(header, line.split("\t"), strict=False)), names)
    return pairs.dataset()


def _read_semeval(folder: Path, pattern: str) -> Dataset:
    """STS12–16: per sub-corpus an input file (s1 TAB s2 [TAB source...]) aligned line by line with a gold
    file; an empty gold line means the pair was not scored and is skipped. All sub-corpora are pooled,
    as MTEB and SentEval's "all" figure do.
    """
    inputs = sorted(folder.glob(pattern))
    if not inputs:
        raise DataError(f"no files matching {pattern}", path=folder)
    builders = []
    for input_path in inputs:
        gold_path = input_path.with_name(input_path.name.replace(".input.", ".gs."))
        if not gold_path.is_file():
            raise DataError(f"gold file {gold_path.name} missing for this input", path=input_path)
        sentences = read_text(input_path).splitlines()
        golds = read_text(gold_path).splitlines()
        if len(golds) > len(sentences):
            raise DataError(
                f"gold file has {len(golds)} lines but the input only {len(sentences)}", path=gold_path
            )
        pairs = PairBuilder(input_path)
        for number, (line, gold) in enumerate(zip(sentences, golds, strict=False), start=1):
            if not gold.strip():
                continue
            cells = line.split("\t")
            if len(cells) < 2:
                raise DataError("expected sentence1 TAB sentence2", path=input_path, line=number)
            pairs.add(number, {"sentence1": cells[0], "sentence2": cells[1], "score": gold}, _NAMES)
        builders.append(pairs)
    return Dataset.from_dict(
        {
            "sentence1": [s for b in builders for s in b.sentence1],
            "sentence2": [s for b in builders for s in b.sentence2],
            "score": [s for b in builders for s in b.score],
        }
    )


_NAMES = ("sentence1", "sentence2", "score")


def _semeval(year: int, prefix: str = "STS") -> StsTask:
    return StsTask(
        name=f"sts{year}",
        title=f"STS{year}",
        folder=f"sts{year}",
        default_split="test",
        score_range=(0.0, 5.0),
        reader=_read_semeval,
        files={"test": f"{prefix}.input.*.txt"},
        hub={"test": (f"mteb/sts{year}-sts", "test")},
    )


STS_TASKS: dict[str, StsTask] = {
    "stsb": StsTask(
        name="stsb",
        title="STS-B",
        folder="stsb",
        default_split="test",
        score_range=(0.0, 5.0),
        reader=_read_stsb,
        files={"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test.csv"},
        hub={
            "train": ("sentence-transformers/stsb", "train"),
            "dev": ("sentence-transformers/stsb", "validation"),
            "test": ("sentence-transformers/stsb", "test"),
        },
    ),
    # "full" is the 9,927-pair SemEval-2014 release that MTEB's SICK-R scores; train/dev/test are the
    # SemEval splits (SentEval's SICK-R figure is the 4,927-pair test split).
    "sickr": StsTask(
        name="sickr",
        title="SICK-R",
        folder="sickr",
        default_split="full",
        score_range=(1.0, 5.0),
        reader=_read_sick,
        files={
            "full": "SICK.txt",
            "train": "SICK_train.txt",
            "dev": "SICK_trial.txt",
            "test": "SICK_test_annotated.txt",
        },
        hub={
            "full": ("mteb/sickr-sts", "test"),
            "train": ("sentence-transformers/sick", "train"),
            "dev": ("sentence-transformers/sick", "validation"),
            "test": ("sentence-transformers/sick", "test"),
        },
    ),
    **{f"sts{year}": _semeval(year) for year in (12, 13, 14, 15)},
    "sts16": _semeval(16, prefix="STS2016"),
}

STS_SUITE = ["stsb", "sickr", "sts12", "sts13", "sts14", "sts15", "sts16"]


def get_task(name: str) -> StsTask:
    """The STS task by name (case-insensitive); a clear error names the known ones.

    Example::

        get_task("SICK-R").title  # "SICK-R"
    """
    try:
        return STS_TASKS[name.lower()]
    except KeyError:
        raise DataError(f"unknown STS task '{name}'; known: {', '.join(STS_TASKS)}") from None


def load_sts(task: str, split: str | None = None, root: Path | None = None) -> Dataset:
    """One benchmark split as a Dataset(sentence1, sentence2, score), scores as the source gives them."""
    spec = get_task(task)
    split = split or spec.default_split
    if split not in spec.files:
        raise DataError(f"{spec.title} has no split '{split}'; splits: {', '.join(spec.splits)}")
    root = root or data_dir()
    folder = root / spec.folder if root else None
    if folder is not None and folder.is_dir():
        return spec.reader(folder, spec.files[split])
    return _load_from_hub(spec, split, folder)


def sentences(task: str = "stsb", split: str | None = None, limit: int | None = None) -> list[str]:
    """The distinct sentences of a split, in file order: real text for speed and parity measurements."""
    pairs = load_sts(task, split)
    unique = list(dict.fromkeys([*pairs["sentence1"], *pairs["sentence2"]]))
    return unique[:limit] if limit is not None else unique


def _load_from_hub(spec: StsTask, split: str, folder: Path | None) -> Dataset:
    """Fallback for users with internet and no local copy."""
    hub_id, hub_split = spec.hub[split]
    where = f"not found at {folder}" if folder else "no data folder (set EMBEDLAB_DATA_DIR)"
    try:
        from datasets import load_dataset

        data = load_dataset(hub_id, split=hub_split)
    except Exception as error:
        raise DataError(
            f"{spec.title} {split}: {where}, and the hub copy {hub_id} could not be loaded "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
        ) from None
    renames = {"sentence_A": "sentence1", "sentence_B": "sentence2", "label": "score"}
    for old, new in renames.items():
        if old in data.column_names and new not in data.column_names:
            data = data.rename_column(old, new)
    return data.select_columns(["sentence1", "sentence2", "score"])
