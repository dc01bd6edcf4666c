"""The pipeline's comparison report: base model vs fine-tuned model vs TF-IDF, as markdown, JSON and plots,
and the fine-tuned model's card rewritten with the same table.
"""

from __future__ import annotations

import json
from pathlib import Path

from embedlab.apps.arxiv.config import PipelineConfig
from embedlab.evaluate.report import markdown_table
from embedlab.hardware import machine_summary
from embedlab.io import atomic_path, write_json_atomic, write_text_atomic

SYSTEM_TITLES = {"base": "base model", "finetuned": "fine-tuned", "tfidf": "TF-IDF"}
METRICS = (
    ("arxiv-retrieval", "precision@1"),
    ("arxiv-retrieval", "precision@5"),
    ("arxiv-retrieval", "precision@10"),
    ("arxiv-retrieval", "recall@10"),
    ("arxiv-retrieval", "mrr@10"),
    ("arxiv-retrieval", "ndcg@10"),
    ("arxiv-retrieval", "map@100"),
    ("arxiv-classification", "accuracy"),
    ("arxiv-classification", "macro_f1"),
)


def _value(result: dict, task: str, metric: str) -> float | None:
    return next((r["value"] for r in result["records"] if r["task"] == task and r["metric"] == metric), None)


def comparison_table(results: dict[str, dict]) -> str:
    """Markdown table of every metric for each system (base, fine-tuned, TF-IDF), with Δ vs base.

    Example::

        print(comparison_table({"base": base_json, "finetuned": tuned_json}))
    """
    systems = [s for s in SYSTEM_TITLES if s in results]
    headers = ["task", "metric", *(SYSTEM_TITLES[s] for s in systems)]
    if {"base", "finetuned"} <= results.keys():
        headers.append("Δ vs base")
    if {"tfidf", "finetuned"} <= results.keys():
        headers.append("Δ vs TF-IDF")
    rows = []
    for task, metric in METRICS:
        values = {s: _value(results[s], task, metric) for s in systems}
        row = [
            task.removeprefix("arxiv-"),
            metric,
            *("–" if v is None else f"{v:.2f}" for v in values.values()),
        ]
        tuned = values.get("finetuned")
        for other in ("base", "tfidf"):
            if other in values and "finetuned" in values:
                base = values[other]
                row.append("–" if tuned is None or base is None else f"{tuned - base:+.2f}")
        rows.append(row)
    return markdown_table(headers, rows)


def per_label_chart(results: dict[str, dict], path: Path) -> None:
    """Bar chart of per-subject precision@10 for each system, saved as a PNG.

    Example::

        per_label_chart(results, Path("runs/arxiv-demo/per_subject.png"))
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    systems = [s for s in SYSTEM_TITLES if s in results]
    labels = sorted(results[systems[0]]["retrieval_per_label"])
    width = 0.8 / len(systems)
    figure, axis = plt.subplots(figsize=(max(8, 0.55 * len(labels)), 4.5))
    for number, system in enumerate(systems):
        values = [100 * results[system]["retrieval_per_label"][label]["precision@10"] for label in labels]
        axis.bar(np.arange(len(labels)) + number * width, values, width, label=SYSTEM_TITLES[system])
    axis.set_xticks(np.arange(len(labels)) + width * (len(systems) - 1) / 2, labels, rotation=60, ha="right")
    axis.set_ylabel("precision@10 (%)")
    axis.set_title("Retrieval precision@10 per subject (test papers)")
    axis.legend()
    figure.tight_layout()
    _save_figure(figure, path)


def embedding_map(results: dict[str, dict], path: Path) -> None:
    """2-D map (t-SNE) of test-paper embeddings coloured by subject, base beside fine-tuned, as a PNG.

    Example::

        embedding_map(results, Path("runs/arxiv-demo/map.png"))
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in ("base", "finetuned") if s in results and "map" in results[s]]
    if not shown:
        return
    labels = sorted(set(results[shown[0]]["map"]["labels"]))
    colours = {label: plt.get_cmap("tab20")(i % 20) for i, label in enumerate(labels)}
    figure, axes = plt.subplots(1, len(shown), figsize=(6.5 * len(shown), 6), squeeze=False)
    for axis, system in zip(axes[0], shown, strict=True):
        xy, point_labels = results[system]["map"]["xy"], results[system]["map"]["labels"]
        axis.scatter(
            [p[0] for p in xy],
            [p[1] for p in xy],
            s=4,
            c=[colours[label] for label in point_labels],
            alpha=0.8,
        )
        axis.set_title(f"{SYSTEM_TITLES[system]}: t-SNE of {len(xy):,} test abstracts")
        axis.set_xticks([])
        axis.set_yticks([])
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours[label], label=label) for label in labels]
    figure.legend(handles=handles, loc="center right", fontsize=8)
    figure.tight_layout(rect=(0, 0, 0.88, 1))
    _save_figure(figure, path)


def _save_figure(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as staging:
        figure.savefig(staging, dpi=120, format=path.suffix.lstrip("."))
    plt.close(figure)


def write_report(config: PipelineConfig, stage_log) -> dict:
    """Write `RUN/report.md`, `RUN/report.json`, the charts and the model card from the evaluation files.

    Example::

        results = write_report(config, record)
    """
    run_dir, eval_dir = config.run_dir, config.eval_dir
    results = {
        system: json.loads((eval_dir / f"{system}.json").read_text(encoding="utf-8"))
        for system in SYSTEM_TITLES
        if (eval_dir / f"{system}.json").is_file()
    }
    table = comparison_table(results)
    stage_seconds = {
        path.stem: json.loads(path.read_text(encoding="utf-8")).get("seconds")
        for path in sorted((run_dir / ".stages").glob("*.json"))
    }
    any_result = next(iter(results.values()))
    per_label_chart(results, run_dir / "precision_per_subject.png")
    embedding_map(results, run_dir / "embedding_map.png")
    timing = "\n".join(
        f"- {name}: {seconds:.0f} s" for name, seconds in stage_seconds.items() if seconds is not None
    )
    markdown = f"""# {config.name}: `{config.model}` fine-tuned on arXiv vs the base model vs TF-IDF

Test split: {any_result["test_papers"]:,} papers. Retrieval: each paper's {config.eval.query_field} is a
query against the {any_result["corpus"]:,} test {config.eval.corpus_field}s; relevant = same
{config.data.label_level} (metrics ×100, as sentence-transformers' InformationRetrievalEvaluator defines
them). Classification: logistic regression on frozen features of
{any_result["classifier_train_papers"]:,} training papers' {config.eval.classification_field}s.

{table}

![precision@10 per subject](precision_per_subject.png)

![t-SNE of test embeddings](embedding_map.png)

## Stage times (wall-clock seconds of the run that computed each stage)

{timing}

Machine: {machine_summary()}
"""
    write_text_atomic(run_dir / "report.md", markdown)
    report = {
        "name": config.name,
        "model": config.model,
        "results": {system: result["records"] for system, result in results.items()},
        "retrieval_per_label": {system: result["retrieval_per_label"] for system, result in results.items()},
        "stage_seconds": stage_seconds,
        "stages_skipped": stage_log.skipped,
        "machine": machine_summary(),
        "config": config.model_dump(mode="json"),
    }
    write_json_atomic(run_dir / "report.json", report)
    if config.model_dir.is_dir():
        write_text_atomic(config.model_dir / "README.md", model_card_text(config, table))
    return report


def model_card_text(config: PipelineConfig, table: str | None, about: str | None = None) -> str:
    """The card of a model the pipeline made: how it was trained (`about` replaces that line), how to load it,
    its test table (when evaluated) and the config.

    Example::

        (config.model_dir / "README.md").write_text(model_card_text(config, comparison_table(results)))
    """
    kinds = ", ".join(config.pairs.kinds)
    about = about or (
        f"`{config.model}` fine-tuned with embedlab on arXiv papers ({config.pairs.train_pairs:,} pairs:\n"
        f"{kinds}; loss {config.loss.name}) so that papers of the same {config.data.label_level}\n"
        "lie close together."
    )
    evaluation = table or "Not evaluated yet: the pipeline writes the table here once it has."
    return f"""---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags:
- sentence-transformers
- embedlab
- arxiv
base_model: {config.model}
---

# {config.name}

{about}

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("path/to/this/folder")
embeddings = model.encode(["Spectral gaps of random regular graphs", "We prove a bound on ..."])
```

## Evaluation (held-out test papers)

{evaluation}

## Config

```yaml
{config.to_yaml().rstrip()}
```
"""
