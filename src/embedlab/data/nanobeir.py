"""NanoBEIR: the 13 small BEIR tasks (50 queries, a few thousand documents each) that sentence-transformers'
`NanoBEIREvaluator` scores — the quick retrieval check the field reports. Read from
`$EMBEDLAB_DATA_DIR/nanobeir/Nano<Name>/` when that BEIR-layout folder is there (offline), else from the hub
dataset the library's evaluator reads (`sentence-transformers/NanoBEIR-en`: subsets corpus, queries, qrels;
one split per task).

    load_nanobeir("scifact")  # RetrievalTask "NanoSciFact": 50 queries
    nanobeir_names("nanobeir")  # all 13; "nanobeir:scifact+nfcorpus" two
"""

from __future__ import annotations

from pathlib import Path

from embedlab.data.beir import RetrievalTask, load_beir
from embedlab.errors import DataError
from embedlab.paths import data_dir

PREFIX = "nanobeir"
HUB_DATASET = "sentence-transformers/NanoBEIR-en"


def _names() -> dict[str, str]:
    # the library's own list, so a task it adds is ours too
    from sentence_transformers.sentence_transformer.evaluation.nano_beir import DATASET_NAME_TO_HUMAN_READABLE

    return DATASET_NAME_TO_HUMAN_READABLE


def nanobeir_names(spec: str) -> list[str]:
    """The NanoBEIR tasks a task spec names: 'nanobeir' (all 13) or 'nanobeir:scifact+nfcorpus' ('+', as
    commas separate the tasks of a list).

    Example::

        nanobeir_names("nanobeir:scifact")  # ["scifact"]
    """
    known = _names()
    _, _, listed = spec.partition(":")
    names = [n.strip().lower() for n in listed.split("+") if n.strip()] or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"tasks {spec}: {unknown[0]!r} is not a NanoBEIR task; they are {', '.join(known)}")
    return names


def load_nanobeir(name: str, root: Path | None = None, dataset_id: str = HUB_DATASET) -> RetrievalTask:
    """One NanoBEIR task: from `root` (default `$EMBEDLAB_DATA_DIR/nanobeir`) when it holds `Nano<Name>/`
    in the BEIR layout, else from the hub (`dataset_id`) through `datasets`.

    Example::

        task = load_nanobeir("nfcorpus")
        task.name, len(task.queries)  # ("NanoNFCorpus", 50)
    """
    title = f"Nano{_names()[name.lower()]}"
    folder = (root or (data_dir() or Path("/nonexistent")) / "nanobeir") / title
    if folder.is_dir():
        return load_beir(folder, "test")
    return _from_hub(title, dataset_id)


def _from_hub(title: str, dataset_id: str) -> RetrievalTask:
    from datasets import load_dataset

    try:
        parts = {
            subset: load_dataset(dataset_id, subset, split=title) for subset in ("corpus", "queries", "qrels")
        }
    except Exception as error:  # offline, or a hub that lacks it: say where embedlab looked
        raise DataError(
            f"{title}: not in $EMBEDLAB_DATA_DIR/nanobeir/{title}/ (a BEIR folder) and the hub dataset "
            f"{dataset_id} could not be read ({type(error).__name__})"
        ) from None
    corpus = {str(row["_id"]): f"{row.get('title') or ''} {row['text']}".strip() for row in parts["corpus"]}
    queries = {str(row["_id"]): row["text"] for row in parts["queries"]}
    qrels: dict[str, dict[str, int]] = {}
    for row in parts["qrels"]:
        documents = row["corpus-id"] if isinstance(row["corpus-id"], list) else [row["corpus-id"]]
        for document in documents:
            grade = row.get("score")
            qrels.setdefault(str(row["query-id"]), {})[str(document)] = 1 if grade is None else int(grade)
    judged = {q: j for q, j in qrels.items() if q in queries}
    return RetrievalTask(title, "test", {q: queries[q] for q in judged}, corpus, judged)
