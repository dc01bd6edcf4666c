"""MTEB's retrieval tasks by name (`mteb:SciFact`, `mteb:NFCorpus+ArguAna`): the task's metadata (its dataset,
revision and evaluation split) from the `mteb` package, its data from `$EMBEDLAB_DATA_DIR/mteb/<Task>/` when
that BEIR-layout folder is there (offline), else through mteb's own loader from the hub — so the queries,
documents and judgements are the ones MTEB scores.

    load_mteb_task("SciFact")  # RetrievalTask "SciFact", split "test": 300 queries, 5,183 documents
    mteb_names("mteb:SciFact+NFCorpus")  # ["SciFact", "NFCorpus"]
"""

from __future__ import annotations

from pathlib import Path

from embedlab.data.beir import RetrievalTask, load_beir
from embedlab.errors import DataError, EmbedlabError
from embedlab.paths import data_dir

PREFIX = "mteb:"


def mteb_names(spec: str) -> list[str]:
    """The task names of a spec 'mteb:A+B' ('+', as commas separate the tasks of a list).

    Example::

        mteb_names("mteb:SciFact")  # ["SciFact"]
    """
    names = [name.strip() for name in spec.removeprefix(PREFIX).split("+") if name.strip()]
    if not names:
        raise DataError(f"tasks {spec}: name an MTEB retrieval task, as in mteb:SciFact")
    return names


def check_mteb_task(name: str) -> str:
    """The task's evaluation split, after checking that mteb knows `name` as a retrieval task; with no `mteb`
    installed, a local folder is read as split test and anything else is one line naming the package.

    Example::

        check_mteb_task("SciFact")  # "test"
    """
    try:
        import mteb
    except ImportError:
        if _folder(name).is_dir():
            return "test"
        raise EmbedlabError(
            f"mteb:{name}: the task list is the mteb package's: pip install 'embedlab[mteb]' "
            f"(or put the task's BEIR folder in $EMBEDLAB_DATA_DIR/mteb/{name}/)"
        ) from None
    try:
        task = mteb.get_task(name)
    except KeyError as error:  # mteb's message suggests the nearest name
        said = str(error).strip('"').removeprefix("KeyError: ")
        raise DataError(f"tasks mteb:{name}: {said}") from None
    if task.metadata.type != "Retrieval":
        raise DataError(f"tasks mteb:{name}: a {task.metadata.type} task; mteb:TASK reads retrieval tasks")
    return task.metadata.eval_splits[0]


def load_mteb_task(name: str, root: Path | None = None) -> RetrievalTask:
    """One MTEB retrieval task: from `root/<name>/` (default `$EMBEDLAB_DATA_DIR/mteb`) when that BEIR folder
    is there, else loaded by mteb from the hub at the revision its metadata pins.

    Example::

        task = load_mteb_task("NFCorpus")
        task.split, len(task.queries)  # ("test", 323)
    """
    split = check_mteb_task(name)
    folder = _folder(name, root)
    if folder.is_dir():
        return load_beir(folder, split)
    import mteb

    task = mteb.get_task(name)
    try:
        task.load_data()
    except Exception as error:  # offline, or a hub that lacks it: say where embedlab looked
        raise DataError(
            f"mteb:{name}: not in $EMBEDLAB_DATA_DIR/mteb/{name}/ (a BEIR folder) and mteb could not read "
            f"{task.metadata.dataset['path']} from the hub ({type(error).__name__})"
        ) from None
    assert task.dataset is not None  # load_data filled it
    return from_split_data(name, split, task.dataset["default"][split])


def from_split_data(name: str, split: str, data) -> RetrievalTask:
    """The split mteb loads (corpus and queries as datasets, `relevant_docs` a dict) as a RetrievalTask, with
    title and text joined as the BEIR loader joins them; only judged queries are kept, as MTEB does.

    Example::

        task = mteb.get_task("SciFact"); task.load_data()
        from_split_data("SciFact", "test", task.dataset["default"]["test"])
    """
    corpus = {str(row["id"]): f"{row.get('title') or ''} {row['text']}".strip() for row in data["corpus"]}
    queries = {str(row["id"]): row["text"] for row in data["queries"]}
    qrels = {
        str(query): {str(doc): int(grade) for doc, grade in judged.items()}
        for query, judged in data["relevant_docs"].items()
        if str(query) in queries
    }
    return RetrievalTask(name, split, {q: queries[q] for q in qrels}, corpus, qrels)


def _folder(name: str, root: Path | None = None) -> Path:
    return (root or (data_dir() or Path("/nonexistent")) / "mteb") / name
