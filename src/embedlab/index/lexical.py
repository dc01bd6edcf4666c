"""The BM25 side of an index (`bm25s`), saved beside the vectors in each version folder and rebuilt with the
documents when some are added (bm25s has no incremental add; building over 100k chunks takes seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FOLDER = "bm25"


class LexicalIndex:
    """BM25 over the rows' texts (English stop words removed, lower-cased).

    Example::

        lexical = LexicalIndex.build(["a cat sits on the mat", "dogs run in the park"])
        rows, scores = lexical.search("cat mat", k=5)  # rows [0], only rows sharing a word
    """

    def __init__(self, retriever, size: int) -> None:
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        """Index `texts` (row i is texts[i])."""
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        return cls(retriever, len(texts))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and BM25 scores of up to `k` rows sharing at least one word with `query`, best first."""
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)
        if not tokens[0] or self.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows, scores = self.retriever.retrieve(tokens, k=min(k, self.size), show_progress=False)
        keep = scores[0] > 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def save(self, folder: Path) -> None:
        """Write the BM25 arrays and vocabulary into `folder/bm25/` (no pickle)."""
        self.retriever.save(str(folder / FOLDER), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        """Read `folder/bm25/`; a damaged one is a one-line error."""
        import bm25s

        from embedlab.errors import EmbedlabError

        try:
            retriever = bm25s.BM25.load(str(folder / FOLDER), show_progress=False)
        except (OSError, ValueError, KeyError) as error:
            raise EmbedlabError(
                f"{folder / FOLDER}: not a readable BM25 index ({error}); rebuild the index"
            ) from None
        return cls(retriever, size)
