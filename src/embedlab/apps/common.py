"""What the apps share: documents in, vectors with a progress bar, results out (JSONL or Parquet plus a
report, written into `embedlab.io.output_dir`: a staged folder that takes its place only when complete).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.io import l2_normalise

OUTPUT_FORMATS = ("jsonl", "parquet")


def check_threshold(value: float, option: str = "threshold") -> float:
    """A cosine threshold must lie in [-1, 1]; the error names the parameter.

    Example::

        check_threshold(0.92)  # 0.92
    """
    if not -1.0 <= value <= 1.0:
        raise EmbedlabError(f"{option}={value}: a cosine threshold lies between -1 and 1")
    return value


def encode_texts(
    encoder, texts: list[str], label: str, batch_size: int = 64, show: bool = True
) -> np.ndarray:
    """Unit vectors of `texts` under one labelled progress bar (counting texts).

    Example::

        vectors = encode_texts(load_encoder("all-MiniLM-L6-v2"), texts, "dedup")
    """
    from embedlab.runtime.encoder import encode_in_chunks

    vectors = encode_in_chunks(
        lambda part: encoder.encode(part, batch_size=batch_size), texts, label, dim=encoder.dim,
        batch_size=batch_size, show=show,
    )  # fmt: skip
    return l2_normalise(vectors)


def write_rows(path: Path, rows: list[dict], fmt: str | None = None) -> Path:
    """Rows as JSONL or Parquet (`fmt`, else by the file's extension).

    Example::

        write_rows(Path("out/kept.parquet"), [{"id": "a", "text": "..."}])
    """
    if (fmt or path.suffix.lstrip(".")) == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
