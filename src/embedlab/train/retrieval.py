"""Fine-tuning for retrieval on any corpus: a config's `retrieval:` data → training pairs with mined hard
negatives, a dev evaluator that chooses the checkpoint, and the held-out task written into the run folder
(`RUN/held-out/`, BEIR layout) so the same figures can be had again with `embedlab eval MODEL --tasks
retrieval:RUN/held-out`.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datasets import Dataset

from embedlab.config import RetrievalData, RunConfig
from embedlab.data.beir import RetrievalTask, write_beir_files
from embedlab.data.retrieval_data import (
    QueryRow,
    QuerySplits,
    RetrievalRows,
    read_documents,
    read_pairs,
    split_queries,
)
from embedlab.data.retrieval_data import training_pairs as make_pairs
from embedlab.io import atomic_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

HELD_OUT = "held-out"  # the run folder's held-out task
DEV_METRIC = "dev_cosine_ndcg@10"  # what picks the checkpoint of a retrieval run


def read_retrieval_data(data: RetrievalData) -> RetrievalRows:
    """The documents or pairs a `retrieval:` section names, checked row by row before any encoding.

    Example::

        rows = read_retrieval_data(RetrievalData(pairs="faq.jsonl"))
    """
    if data.pairs is not None:
        return read_pairs(data.pairs, negative_field=data.negative_field)
    return read_documents(
        documents_path(data.documents),  # type: ignore[arg-type]
        query_field=data.query_field,  # type: ignore[arg-type]
        document_field=data.document_field,  # type: ignore[arg-type]
        label_field=data.label_field,
        id_field=data.id_field,
    )


def documents_path(documents: str) -> Path:
    """A documents file, or `arxiv:SPLIT`: that split of the shipped arXiv papers (prepared once, cached;
    fields id, title, abstract, primary_category, primary_subject).

    Example::

        documents_path("arxiv:train")  # ~/.cache/embedlab/arxiv/<key>/train.parquet
    """
    if documents.startswith("arxiv:"):
        from embedlab.data.arxiv import default_prepared_dir

        split = documents.removeprefix("arxiv:")
        path = default_prepared_dir() / f"{split}.parquet"
        if not path.is_file():
            from embedlab.errors import ConfigError

            raise ConfigError(f"retrieval.documents: {documents}: the arXiv splits are train, eval and test")
        return path
    return Path(documents)


def held_out_task(run_dir: Path) -> str:
    """The evaluation task of a run's held-out queries, as `eval.tasks` names it.

    Example::

        held_out_task(Path("runs/adapt"))  # "retrieval:runs/adapt/held-out"
    """
    return f"retrieval:{run_dir / HELD_OUT}"


def adapt_config(
    documents: str | Path,
    *,
    query_field: str,
    document_field: str,
    label_field: str | None = None,
    id_field: str | None = None,
    model: str = "all-MiniLM-L6-v2",
    out: str | Path | None = None,
    hard_negatives: int = 1,
    max_pairs: int | None = None,
    epochs: float = 1.0,
    tasks: list[str] | None = None,
    label_positives: float = 0.0,
) -> RunConfig:
    """The run config `embedlab adapt` trains: MNRL on (query field, document field) pairs of `documents`,
    `hard_negatives` mined with `model` (label-aware with `label_field`; `label_positives` of the pairs with
    a positive of the query's label), into `out` (a run folder; default
    runs/adapt-DOCS); scored on held-out queries and `tasks` (default: the STS suite), before and after.
    Save it with `config.to_yaml()` to change more than these.

    Example::

        config = adapt_config("papers.jsonl", query_field="title", document_field="abstract")
        train(config, log=print)
    """
    from pydantic import ValidationError

    from embedlab.errors import ConfigError, format_validation_error

    folder = (
        Path(out) if out is not None else Path("runs") / f"adapt-{Path(str(documents)).stem.split('.')[0]}"
    )
    retrieval = {"documents": str(documents), "query_field": query_field, "document_field": document_field,
                 "label_field": label_field, "id_field": id_field, "hard_negatives": hard_negatives,
                 "max_pairs": max_pairs, "label_positives": label_positives}  # fmt: skip
    try:
        return _adapt_run_config(folder, model, retrieval, label_field, epochs, tasks)
    except ValidationError as error:  # one line naming the parameter, never a traceback
        raise ConfigError(format_validation_error("adapt", error)) from None


def _adapt_run_config(
    folder: Path, model: str, retrieval: dict, label_field: str | None, epochs: float, tasks: list[str] | None
) -> RunConfig:
    from embedlab.config import STS_SUITE

    return RunConfig.model_validate(
        {
            "name": folder.name,
            "output_dir": str(folder.parent),
            "model": model,
            "retrieval": retrieval,
            "loss": {"name": "mnrl", "mask_same_label": label_field is not None},
            "training": {"epochs": epochs, "learning_rate": 5e-5},
            "eval": {"tasks": list(STS_SUITE) if tasks is None else tasks},
        }
    )


@dataclass
class RetrievalTraining:
    """What a retrieval run trains and chooses on: the pairs (with negatives), the dev evaluator."""

    data: Dataset
    evaluator: object
    splits: QuerySplits


def prepare_retrieval(
    config: RunConfig, model: SentenceTransformer, rows: RetrievalRows, log=lambda line: None
) -> RetrievalTraining:
    """Split the queries, write the held-out task into the run folder, build the training pairs (mining
    hard negatives with `model`, the starting model, when asked) and the dev evaluator.

    Example::

        training = prepare_retrieval(config, model, read_retrieval_data(config.retrieval), log=print)
    """
    data = config.retrieval
    assert data is not None
    splits = split_queries(rows, held_out=data.held_out, dev_queries=data.dev_queries,
                           corpus_size=data.corpus_size, seed=config.seed, name=HELD_OUT)  # fmt: skip
    with atomic_dir(config.run_dir / HELD_OUT, kind="retrieval task") as staging:
        write_beir_files(staging, splits.test)
    pairs = make_pairs(splits.train, rows.documents)
    if data.max_pairs is not None and data.max_pairs < len(pairs):
        pairs = random.Random(config.seed).sample(pairs, data.max_pairs)
    dev = splits.dev
    if data.label_positives:
        pairs = label_positives(pairs, splits.train, rows, data.label_positives, config.seed)
        dev = with_label_relevance(dev, rows.labels)
    log(
        f"retrieval data: {len(pairs):,} training pairs, {len(splits.dev.queries):,} dev and "
        f"{len(splits.test.queries):,} held-out queries (never trained on)"
    )
    if data.hard_negatives:
        # negatives come from the documents trained on: never a held-out one, and no more to encode than that
        texts = sorted({p["positive"] for p in pairs} | {p["negative"] for p in pairs if "negative" in p})
        labels = {rows.documents[d]: label for d, label in rows.labels.items()}
        pairs = mine_negatives(
            model, pairs, texts, labels=labels or None, count=data.hard_negatives, range_max=data.range_max,
            relative_margin=data.relative_margin, batch_size=config.eval.batch_size, log=log,
        )  # fmt: skip
    keep_label = config.loss.mask_same_label or config.training.batches == "distinct-labels"
    columns = ["anchor", "positive", *sorted(k for k in pairs[0] if k.startswith("negative"))]
    table = {c: [p[c] for p in pairs] for c in columns}
    if keep_label:  # the loss and the sampler compare labels as integers
        if any(p["label"] is None for p in pairs):
            from embedlab.errors import ConfigError

            raise ConfigError(
                "loss.mask_same_label and training.batches: distinct-labels need retrieval.label_field"
            )
        names = {name: i for i, name in enumerate(sorted({p["label"] for p in pairs}))}
        table["label"] = [names[p["label"]] for p in pairs]
    dataset = Dataset.from_dict(table)
    return RetrievalTraining(dataset, dev_ir_evaluator(dev, config.eval.batch_size), splits)


def label_positives(
    pairs: list[dict], train: list[QueryRow], rows: RetrievalRows, fraction: float, seed: int
) -> list[dict]:
    """A seeded `fraction` of the pairs with another training document of the query's label as positive
    (topic search: what a query should find is its label's documents, not only its own).

    Example::

        label_positives(pairs, splits.train, rows, 0.5, seed=42)[0]["positive"]  # a same-label abstract
    """
    by_label: dict[str, list[str]] = {}
    for row in train:
        for doc in row.positives:
            by_label.setdefault(rows.labels[doc], []).append(rows.documents[doc])
    rng = random.Random(seed)
    out = []
    for pair in pairs:
        others = by_label.get(pair["label"], [])
        if len(others) > 1 and rng.random() < fraction:
            choice = rng.choice(others)
            while choice == pair["positive"]:
                choice = rng.choice(others)
            pair = {**pair, "positive": choice}
        out.append(pair)
    return out


def with_label_relevance(task: RetrievalTask, labels: dict[str, str]) -> RetrievalTask:
    """`task` with every document of a query's label relevant too (the label of its own documents).

    Example::

        with_label_relevance(splits.dev, rows.labels).qrels["q0"]  # {"d1": 1, "d7": 1, ...}
    """
    by_label: dict[str, list[str]] = {}
    for doc in task.corpus:
        by_label.setdefault(labels[doc], []).append(doc)
    qrels = {
        query: {**dict.fromkeys(d for own in judged for d in by_label[labels[own]]), **judged}
        for query, judged in task.qrels.items()
    }
    return RetrievalTask(task.name, task.split, task.queries, task.corpus,
                         {q: {d: g or 1 for d, g in j.items()} for q, j in qrels.items()})  # fmt: skip


def mine_negatives(
    model: SentenceTransformer,
    pairs: list[dict],
    corpus: list[str],
    *,
    count: int = 1,
    labels: dict[str, str] | None = None,
    range_max: int = 50,
    relative_margin: float | None = 0.05,
    batch_size: int = 64,
    log=lambda line: None,
) -> list[dict]:
    """Hard negatives for (anchor, positive) pairs from `corpus`, by sentence-transformers'
    `mine_hard_negatives` (nearest documents by `model`, within `range_max`, `relative_margin` below the
    positive against false negatives), then filtered: never one of the anchor's positives, and with
    `labels` (document text → label) never a document of the anchor's label. Pairs left with fewer than
    `count` negatives are dropped (the loss needs the same columns in every row).

    Example::

        mined = mine_negatives(model, [{"anchor": "q", "positive": "p", "label": "a"}], corpus, count=1)
        mined[0]["negative_1"]
    """
    from sentence_transformers.util import mine_hard_negatives

    candidates = count * 4 if labels else count * 2  # spares for the filters below
    log(f"mining hard negatives for {len(pairs):,} pairs among {len(corpus):,} documents")
    with _quiet_encoding(model):
        mined = mine_hard_negatives(
            Dataset.from_dict({column: [p[column] for p in pairs] for column in ("anchor", "positive")}),
            model, corpus=corpus, range_max=max(range_max, candidates), relative_margin=relative_margin,
            num_negatives=candidates, sampling_strategy="top", output_format="labeled-list",
            batch_size=batch_size, verbose=False,
        )  # fmt: skip
    positives: dict[str, set[str]] = {}
    for pair in pairs:
        positives.setdefault(pair["anchor"], set()).add(pair["positive"])
    found = {}
    for row in mined:  # labeled-list: anchor, [positive, negatives...], [1, 0, ...]
        texts = [t for t, mark in zip(row["positive"], row["labels"], strict=True) if not mark]
        found[(row["anchor"], row["positive"][0])] = texts
    out = []
    for pair in pairs:
        label = pair.get("label")
        ok = [
            t
            for t in found.get((pair["anchor"], pair["positive"]), [])
            if t not in positives[pair["anchor"]]
            and not (labels and label is not None and labels.get(t) == label)
        ][:count]
        if len(ok) == count:
            out.append({**pair, **{f"negative_{i + 1}": text for i, text in enumerate(ok)}})
    log(
        f"hard negatives: {count} for each of {len(out):,} pairs ({len(pairs) - len(out):,} without, dropped)"
    )
    if not out:
        from embedlab.errors import DataError

        raise DataError("no pair kept a hard negative; lower retrieval.hard_negatives or raise range_max")
    return out


@contextmanager
def _quiet_encoding(model):
    """`mine_hard_negatives` shows encode's "Batches" and its own similarity bars whatever `verbose` says:
    not in our progress.
    """
    from functools import partial

    from sentence_transformers.util import hard_negatives

    plain, bars = type(model).encode, (hard_negatives.tqdm, hard_negatives.trange)
    model.encode = lambda *args, **kwargs: plain(model, *args, **{**kwargs, "show_progress_bar": False})
    hard_negatives.tqdm, hard_negatives.trange = (
        partial(bars[0], disable=True),
        partial(bars[1], disable=True),
    )
    try:
        yield
    finally:
        del model.encode
        hard_negatives.tqdm, hard_negatives.trange = bars


def dev_ir_evaluator(task: RetrievalTask, batch_size: int = 64):
    """sentence-transformers' `InformationRetrievalEvaluator` on the dev queries: nDCG@10 chooses.

    Example::

        evaluator = dev_ir_evaluator(splits.dev)
    """
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    return InformationRetrievalEvaluator(
        task.queries, task.corpus, {q: set(d) for q, d in task.qrels.items()}, name="dev",
        ndcg_at_k=[10], mrr_at_k=[10], accuracy_at_k=[1], precision_recall_at_k=[10], map_at_k=[100],
        batch_size=batch_size, show_progress_bar=False, score_functions=None,
    )  # fmt: skip
