"""A reranker run (`cross_encoder:` in a run config): sentence-transformers' `CrossEncoder` trained by its own
trainer, started from an embedding model's transformer, in the same run folder as every run (config.yaml,
checkpoints/, metrics.jsonl, model/, results.json, report.md; resumable).

- Ranking (`retrieval:` data): the queries split as a retrieval run splits them (held-out ones written to
  `RUN/held-out/`, never trained on), hard negatives mined by the retriever (`mine_hard_negatives`,
  label-aware), a ranking loss of the library's (BCE over (query, document, 0/1), LambdaLoss or ListNet over
  each query's list, or MNRL), the checkpoint chosen by reranking the retriever's top `depth` of the dev
  queries (nDCG@10); scored by reranking the retriever's dense and hybrid top `depth` on the held-out
  queries and the config's retrieval tasks.
- Similarity (scored `train:` pairs such as STS-B): BCE on scores scaled to [0, 1], chosen by dev Spearman,
  scored on the config's STS tasks.
"""

from __future__ import annotations

from datasets import Dataset

from embedlab.config import RunConfig
from embedlab.evaluate.records import EvalRecord
from embedlab.train.run_folder import MetricsLog, RunResult

DEV = "dev"


def ranking_dataset(pairs: Dataset, loss: str) -> Dataset:
    """(anchor, positive, negative_1..n) rows as the cross-encoder loss reads them: BCE one (query,
    document, label) row per document; LambdaLoss and ListNet one (query, docs, labels) list per query;
    MNRL the rows as they are.

    Example::

        ranking_dataset(Dataset.from_dict({"anchor": ["q"], "positive": ["p"], "negative_1": ["n"]}), "bce")
        # rows ("q", "p", 1.0) and ("q", "n", 0.0)
    """
    negatives = sorted(c for c in pairs.column_names if c.startswith("negative"))
    if loss == "mnrl":
        return pairs.select_columns(["anchor", "positive", *negatives])
    lists = [[row["positive"], *(row[c] for c in negatives)] for row in pairs]
    if loss == "bce":
        rows = [(q, doc, 1.0 if i == 0 else 0.0) for q, docs in zip(pairs["anchor"], lists, strict=True)
                for i, doc in enumerate(docs)]  # fmt: skip
        return Dataset.from_dict(
            {"query": [r[0] for r in rows], "document": [r[1] for r in rows], "label": [r[2] for r in rows]}
        )
    labels = [[1.0] + [0.0] * len(negatives) for _ in lists]
    return Dataset.from_dict({"query": pairs["anchor"], "docs": lists, "labels": labels})


def build_cross_encoder_loss(model, name: str, negatives: int = 0):
    """The library's cross-encoder loss of that name (bce, lambda, listnet, mnrl). BCE over `negatives`
    mined negatives per positive weighs each positive by that count (`pos_weight`, as sentence-transformers'
    own MS MARCO recipe does): unweighted, the easy answer "nothing is relevant" wins.

    Example::

        loss = build_cross_encoder_loss(reranker, "bce", negatives=3)
    """
    import torch
    from sentence_transformers.cross_encoder import losses

    if name == "bce":
        weight = torch.tensor(float(negatives)) if negatives > 1 else None
        return losses.BinaryCrossEntropyLoss(model, pos_weight=weight)
    classes = {
        "lambda": losses.LambdaLoss,
        "listnet": losses.ListNetLoss,
        "mnrl": losses.MultipleNegativesRankingLoss,
    }
    return classes[name](model)


def similarity_dataset(pairs: Dataset, score_range: tuple[float, float]) -> Dataset:
    """Scored (sentence1, sentence2, score) pairs with scores scaled to [0, 1]: BCE's targets.

    Example::

        similarity_dataset(load_sts("stsb", "train"), (0.0, 5.0))["label"][:2]  # [1.0, 0.76]
    """
    low, high = score_range
    labels = [(float(s) - low) / (high - low) for s in pairs["score"]]
    return Dataset.from_dict(
        {"sentence1": pairs["sentence1"], "sentence2": pairs["sentence2"], "label": labels}
    )


def reranking_evaluator(task, first_stage: dict[str, list[str]], depth: int, batch_size: int = 64):
    """sentence-transformers' `CrossEncoderRerankingEvaluator` over the first stage's top `depth` of each
    query (positives not retrieved stay out, as in use): its `dev_ndcg@10` chooses the checkpoint.

    Example::

        evaluator = reranking_evaluator(splits.dev, rankings, depth=50)
    """
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    samples = [
        {
            "query": task.queries[query],
            "positive": [task.corpus[d] for d, grade in judged.items() if grade >= 1],
            "documents": [task.corpus[d] for d in first_stage[query][:depth]],
        }
        for query, judged in task.qrels.items()
    ]
    return CrossEncoderRerankingEvaluator(samples, at_k=10, name=DEV, always_rerank_positives=False,
                                          batch_size=batch_size, show_progress_bar=False)  # fmt: skip


def train_cross_encoder(config: RunConfig, *, resume: bool = False, overwrite: bool = False, callbacks=None,
                        log=lambda line: None) -> RunResult:  # fmt: skip
    """Train the reranker a `cross_encoder:` config describes into runs/NAME/ (see the module's docstring);
    the saved model loads with plain `CrossEncoder(path)`, and its card's figures are that saved model's.

    Example::

        result = train_cross_encoder(load_config("configs/reranker-arxiv-minilm.yaml"), log=print)
        CrossEncoder(str(result.model_dir)).rank("a query", ["a document", "another"])
    """
    from embedlab.models.cross_encoder import load_cross_encoder
    from embedlab.train.trainer import start_run

    settings = config.cross_encoder
    assert settings is not None
    rows = None
    if config.retrieval is not None:  # read and checked before the run folder is made
        from embedlab.train.retrieval import read_retrieval_data

        rows = read_retrieval_data(config.retrieval)
    run = start_run(config, resume=resume, overwrite=overwrite, log=log)
    model = load_cross_encoder(config.model, max_length=settings.max_length, start=True)
    if rows is not None:
        data, evaluator, metric = _ranking_inputs(config, rows, log)
    else:
        data, evaluator, metric = _similarity_inputs(config)
    negatives = config.retrieval.hard_negatives if config.retrieval is not None else 0
    loss = build_cross_encoder_loss(model, settings.loss, negatives)
    trainer, metrics_log = _fit(model, data, loss, evaluator, run, metric, callbacks)
    return _finish(run, model, trainer, metrics_log, train_examples=len(data), log=log)


def _retriever(config: RunConfig):
    from embedlab.models.cross_encoder import check_embedding_model
    from embedlab.models.registry import load_model

    name = retriever_name(config)
    check_embedding_model(name, "cross_encoder.retriever")
    model = load_model(name)
    if config.training.max_seq_length:
        model.max_seq_length = config.training.max_seq_length
    return model


def retriever_name(config: RunConfig) -> str:
    """The embedding model a reranker run mines with and reranks for: `cross_encoder.retriever`, else its
    starting model.

    Example::

        retriever_name(config)  # "all-MiniLM-L6-v2"
    """
    assert config.cross_encoder is not None
    return config.cross_encoder.retriever or config.model


def _ranking_inputs(config: RunConfig, rows, log):
    from embedlab.evaluate.ir_metrics import dense_rankings
    from embedlab.runtime.encoder import TorchEncoder
    from embedlab.train.retrieval import prepare_retrieval

    settings = config.cross_encoder
    assert settings is not None
    retriever = _retriever(config)
    training = prepare_retrieval(config, retriever, rows, log)
    log(f"first stage for the dev queries: {retriever_name(config)}, top {settings.depth}")
    encoder = TorchEncoder.of(retriever, retriever_name(config))
    first_stage, _ = dense_rankings(encoder, training.splits.dev, batch_size=config.eval.batch_size)
    evaluator = reranking_evaluator(training.splits.dev, first_stage, settings.depth, config.eval.batch_size)
    return ranking_dataset(training.data, settings.loss), evaluator, f"{DEV}_ndcg@10"


def _similarity_inputs(config: RunConfig):
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator

    from embedlab.train.sources import load_source

    train_pairs, score_range = load_source(config.train, config.seed)  # type: ignore[arg-type]
    evaluator = None
    if config.dev is not None:
        dev, dev_range = load_source(config.dev, config.seed)
        scaled = similarity_dataset(dev, dev_range)
        evaluator = CrossEncoderCorrelationEvaluator(
            list(zip(scaled["sentence1"], scaled["sentence2"], strict=True)), scaled["label"], name=DEV,
            batch_size=config.eval.batch_size, show_progress_bar=False, write_csv=False,
        )  # fmt: skip
    return similarity_dataset(train_pairs, score_range), evaluator, f"{DEV}_spearman"


def _fit(model, data: Dataset, loss, evaluator, run, metric: str, callbacks):
    """The CrossEncoder trainer, with the run folder's arguments, metrics log and clean progress."""
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from transformers import ProgressCallback

    from embedlab.train.hf_trainer import CleanProgress, local_trackers, training_arguments

    args = training_arguments(run.config, run.run_dir / "checkpoints", has_dev=evaluator is not None,
                              bf16=run.bf16, best_metric=metric,
                              arguments_class=CrossEncoderTrainingArguments)  # fmt: skip
    metrics_log = MetricsLog(run.run_dir / "metrics.jsonl", run.resume_from)
    with local_trackers(run.config, run.run_dir):
        trainer = CrossEncoderTrainer(
            model=model, args=args, train_dataset=data, loss=loss, evaluator=evaluator,
            callbacks=[metrics_log, *(callbacks or [])],
        )  # fmt: skip
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(CleanProgress())
        trainer.train(resume_from_checkpoint=run.resume_from)
    return trainer, metrics_log


def _finish(run, model, trainer, metrics_log: MetricsLog, *, train_examples: int, log) -> RunResult:
    from embedlab.hardware import is_main_process

    best = trainer.state.best_metric
    result = RunResult(
        run_dir=run.run_dir, model_dir=run.run_dir / "model", before=None, after=[],
        best_dev_spearman=best * 100 if best is not None else None, global_step=trainer.state.global_step,
        train_seconds=metrics_log.train_seconds, bf16=run.bf16,
    )  # fmt: skip
    if is_main_process():
        write_reranker_outputs(run.config, model, result, train_examples=train_examples, log=log)
    return result


def score_reranker(config: RunConfig, reranker, log=lambda line: None) -> list[EvalRecord]:
    """A saved reranker's figures: for a ranking run, the retriever's dense and hybrid results on the
    held-out queries and the config's retrieval tasks, before and after reranking its top `depth`; for a
    similarity run, the config's STS tasks.

    Example::

        records = score_reranker(config, CrossEncoder("runs/reranker-arxiv-minilm/model"))
    """
    from embedlab.evaluate.rerank import evaluate_cross_encoder_sts
    from embedlab.evaluate.suite import split_tasks
    from embedlab.train.run_folder import run_tasks

    settings = config.cross_encoder
    assert settings is not None
    selection = split_tasks(",".join(run_tasks(config)))
    records = []
    if selection.sts:
        records += evaluate_cross_encoder_sts(reranker, selection.sts, batch_size=config.eval.batch_size)
    if selection.retrieval:
        from embedlab.evaluate.ir_metrics import evaluate_retrieval_task
        from embedlab.evaluate.suite import load_retrieval_tasks
        from embedlab.runtime.encoder import TorchEncoder

        encoder = TorchEncoder.of(_retriever(config), retriever_name(config))
        cache: dict = {}  # dense and hybrid share most of their candidates
        for item in selection.retrieval:
            for task in load_retrieval_tasks(item):
                for mode in ("dense", "hybrid"):
                    log(f"scoring {task.name} ({mode}, top {settings.depth} reranked)")
                    records += evaluate_retrieval_task(
                        encoder, task, mode=mode, batch_size=config.eval.batch_size, show_progress=False,
                        rerank=reranker, rerank_depth=settings.depth, rerank_cache=cache,
                    )  # fmt: skip
    return records


SHOWN = ("ndcg@10", "mrr@10", "recall@10")  # the card's retrieval figures; results.json keeps them all


def write_reranker_outputs(config: RunConfig, model, result: RunResult, *, train_examples: int, log) -> None:
    """model/ (saved, reloaded as a user loads it, scored, its card written beside it), results.json and
    report.md, each written atomically; non-finite figures stop here and nothing is saved.
    """
    import math

    from embedlab.errors import TrainingError
    from embedlab.hardware import machine_summary
    from embedlab.io import atomic_dir, write_json_atomic, write_text_atomic
    from embedlab.models.cross_encoder import load_cross_encoder

    with atomic_dir(result.model_dir, kind="model") as staging:
        model.save(str(staging), create_model_card=False)
        result.after = score_reranker(config, load_cross_encoder(staging), log)
        broken = [f"{r.task} {r.metric}" for r in result.after if not math.isfinite(r.value)]
        if broken:
            raise TrainingError(f"the trained reranker scores non-finite figures ({', '.join(broken)}); "
                                "no model was saved. Lower training.learning_rate")  # fmt: skip
        (staging / "README.md").write_text(reranker_card(config, result, train_examples), encoding="utf-8")
    write_json_atomic(result.run_dir / "results.json", {
        "name": config.name, "base_model": config.model, "retriever": retriever_name(config),
        "after": [r.to_dict() for r in result.after], "best_dev": result.best_dev_spearman,
        "global_step": result.global_step, "train_seconds": round(result.train_seconds, 1),
        "bf16": result.bf16, "machine": machine_summary(), "config": config.model_dump(mode="json"),
    })  # fmt: skip
    write_text_atomic(result.run_dir / "report.md", f"# {config.name}\n\n{figures_table(result.after)}\n")


def figures_table(records: list[EvalRecord]) -> str:
    """The reranker's figures as Markdown: each retrieval task and first stage with and without the
    reranker (×100), or each STS task's Spearman.

    Example::

        print(figures_table(result.after))  # | held-out | dense | ndcg@10 | 93.24 | 95.10 | +1.86 |
    """
    from embedlab.evaluate.records import lookup
    from embedlab.evaluate.report import markdown_table
    from embedlab.evaluate.sts import SPEARMAN

    stages = [r for r in records if r.task.startswith("retrieval:") and not r.task.endswith("+rerank")]
    rows = []
    for task in dict.fromkeys(r.task for r in stages):
        name, _, mode = task.removeprefix("retrieval:").partition("+")
        for metric in SHOWN:
            first, second = lookup(records, task, metric), lookup(records, f"{task}+rerank", metric)
            if first is None or second is None:
                continue
            rows.append(
                [name, mode or "dense", metric, f"{first:.2f}", f"{second:.2f}", f"{second - first:+.2f}"]
            )
    if rows:
        return markdown_table(["task", "first stage", "metric", "alone", "reranked", "Δ"], rows)
    sts = [[r.task if r.task == "average" else f"{r.task} {r.split}", f"{r.value:.2f}"]
           for r in records if r.metric == SPEARMAN]  # fmt: skip
    return markdown_table(["task", "Spearman of the reranker's scores"], sts)


def reranker_card(config: RunConfig, result: RunResult, train_examples: int) -> str:
    """README.md of a saved reranker: how to load it, what it starts from, its figures and its config."""
    from embedlab.hardware import machine_summary
    from embedlab.train.run_folder import training_data

    settings = config.cross_encoder
    assert settings is not None
    ranking = config.retrieval is not None
    about = (
        f"It reorders the top {settings.depth} of the embedding model `{retriever_name(config)}` (which also "
        "mined its hard negatives); the figures below are that retriever alone and reranked, on queries "
        "held out of training and on the config's tasks."
        if ranking
        else "It scores how similar two sentences are (trained on scores scaled to 0–1)."
    )
    best = result.best_dev_spearman
    return f"""---
library_name: sentence-transformers
pipeline_tag: text-ranking
tags:
- sentence-transformers
- cross-encoder
- reranker
- embedlab
base_model: {config.model}
---

# {config.name}

A reranker (a cross-encoder: query and document read together) trained with embedlab. It starts from the
transformer of the embedding model (bi-encoder) `{config.model}`, with a new one-output head. {about}

```python
from sentence_transformers import CrossEncoder

model = CrossEncoder("path/to/this/folder")
model.rank("How do I colour a graph?", ["The four colour theorem ...", "Stock prices fell ..."])
```

## Evaluation

{figures_table(result.after)}

## Training

- **training data**: {training_data(config, train_examples)}
- **loss**: {settings.loss} (sentence_transformers.cross_encoder.losses)
- **steps**: {result.global_step}
- **best dev {"nDCG@10 (reranked)" if ranking else "Spearman"}**: {f"{best:.2f}" if best is not None else "–"}
- **training time**: {result.train_seconds / 60:.1f} min
- **precision**: {"bf16 autocast" if result.bf16 else "fp32"}
- **machine**: {machine_summary()}

## Config

```yaml
{config.to_yaml().rstrip()}
```
"""
