"""MRPC, the Microsoft Research Paraphrase Corpus: labelled sentence pairs (1 = paraphrase) for pair
classification, read from `$EMBEDLAB_DATA_DIR/mrpc/` (SentEval's files: tab-separated, a BOM, no quoting).

    pairs = load_mrpc("test")  # Dataset: sentence1, sentence2, label — 1,725 pairs
"""

from __future__ import annotations

import csv
from pathlib import Path

from datasets import Dataset

from embedlab.errors import DataError
from embedlab.paths import data_dir

MRPC_FILES = {"train": "msr_paraphrase_train.txt", "test": "msr_paraphrase_test.txt"}


def mrpc_path(split: str = "test", root: Path | None = None) -> Path:
    """The MRPC file of `split` (train or test) in the data folder.

    Example::

        mrpc_path("train")  # …/shared/data/mrpc/msr_paraphrase_train.txt
    """
    if split not in MRPC_FILES:
        raise DataError(f"mrpc has the splits {', '.join(MRPC_FILES)}, not '{split}'")
    folder = root or data_dir()
    if folder is None:
        raise DataError("no data folder for mrpc: set EMBEDLAB_DATA_DIR (the folder holding mrpc/)")
    path = folder / "mrpc" / MRPC_FILES[split]
    if not path.is_file():
        raise DataError("file not found", path=path)
    return path


def load_mrpc(split: str = "test", root: Path | None = None) -> Dataset:
    """MRPC pairs of `split`: sentence1, sentence2, label (1 paraphrase, 0 not). A short row or a label that
    is not 0/1 is one `DataError` naming file and line.

    Example::

        load_mrpc("test")["label"][:3]  # [1, 1, 1]
    """
    path = mrpc_path(split, root)
    columns: dict[str, list] = {"sentence1": [], "sentence2": [], "label": []}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if number == 1 or not row:
                continue  # the header
            if len(row) < 5 or row[0] not in ("0", "1"):
                raise DataError("expected: label (0/1), id, id, sentence, sentence", path=path, line=number)
            columns["label"].append(int(row[0]))
            columns["sentence1"].append(row[3])
            columns["sentence2"].append(row[4])
    return Dataset.from_dict(columns)
