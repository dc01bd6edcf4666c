"""Tables, JSON and model cards, all rendered from the same EvalRecords."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from embedlab.data.sts import STS_TASKS
from embedlab.evaluate.records import EvalRecord, lookup
from embedlab.evaluate.sts import PEARSON, SPEARMAN


def _title(task: str, split: str) -> str:
    spec = STS_TASKS.get(task)
    name = spec.title if spec else task.capitalize()
    return f"{name} {split}".strip()


def table_rows(
    records: Sequence[EvalRecord], before: Sequence[EvalRecord] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the results table (with before/after columns when `before` is given)."""
    keys = list(dict.fromkeys((r.task, r.split, r.n) for r in records if r.metric == SPEARMAN))
    if before is None:
        headers = ["task", "pairs", "Spearman", "Pearson"]
    else:
        headers = ["task", "pairs", "Spearman before", "Spearman after", "Δ", "Pearson after"]
    rows = []
    for task, split, n in keys:
        spearman = lookup(records, task, SPEARMAN, split)
        pearson = lookup(records, task, PEARSON, split)
        label = "average" if task == "average" else _title(task, split)
        count = f"{n} tasks" if task == "average" else f"{n:,}"
        if before is None:
            rows.append([label, count, _fmt(spearman), _fmt(pearson)])
        else:
            base = lookup(before, task, SPEARMAN, split)
            delta = f"{spearman - base:+.2f}" if spearman is not None and base is not None else "–"
            rows.append([label, count, _fmt(base), _fmt(spearman), delta, _fmt(pearson)])
    return headers, rows


def retrieval_rows(
    records: Sequence[EvalRecord], before: Sequence[EvalRecord] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the retrieval records (tasks `retrieval:NAME`), with before/after columns when
    `before` is given.

    Example::

        headers, rows = retrieval_rows(result.after, result.before)  # one row per task and measure
    """
    from embedlab.evaluate.long_documents import METRIC

    chosen = [r for r in records if r.task.startswith("retrieval:") and r.metric != METRIC]
    headers = ["task", "queries", "metric"] + (["before", "after", "Δ"] if before is not None else ["value"])
    rows = []
    for r in chosen:
        row = [f"{r.task.removeprefix('retrieval:')} {r.split}", f"{r.n:,}", r.metric]
        if before is None:
            rows.append([*row, _fmt(r.value)])
            continue
        base = lookup(before, r.task, r.metric, r.split)
        rows.append([*row, _fmt(base), _fmt(r.value), f"{r.value - base:+.2f}" if base is not None else "–"])
    return headers, rows


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table from headers and rows of strings.

    Example::

        markdown_table(["model", "STS-B"], [["MiniLM", "82.03"]])
    """
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def model_card(
    *,
    name: str,
    base_model: str,
    after: Sequence[EvalRecord],
    before: Sequence[EvalRecord] | None,
    config_yaml: str,
    training_summary: dict[str, object],
    description: str | None = None,
    datasets: Sequence[str] = (),
) -> str:
    """README.md for a saved model: how to load it, its evaluation results and the config that made it,
    under the metadata the hub and sentence-transformers read (`card_metadata`).
    """
    summary = "\n".join(f"- **{key}**: {value}" for key, value in training_summary.items())
    before_note = f' "before" is `{base_model}`, evaluated the same way.' if before else ""
    return f"""---
{card_metadata(name, base_model, after, datasets)}---

# {name}

{description or f"A sentence-embedding model fine-tuned with embedlab from `{base_model}`."}

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("path/to/this/folder")
embeddings = model.encode(["A man is playing a guitar.", "Someone plays an instrument."])
```

## Evaluation

{_evaluation(after, before, before_note)}

## Training

{summary}

## Config

```yaml
{config_yaml.rstrip()}
```
"""


def card_metadata(
    name: str, base_model: str, after: Sequence[EvalRecord], datasets: Sequence[str] = ()
) -> str:
    """The card's YAML front matter as sentence-transformers writes it: library, pipeline, tags, the base
    model's hub id and licence (when it is a known model), the training datasets' hub ids, and the STS
    results as a `model-index` (values 0–1, as the hub shows them).

    Example::

        print(card_metadata("my-model", "all-MiniLM-L6-v2", records, ["sentence-transformers/stsb"]))
    """
    import yaml

    from embedlab.models.registry import known

    meta: dict = {"library_name": "sentence-transformers", "pipeline_tag": "sentence-similarity",
                  "tags": ["sentence-transformers", "sentence-similarity", "embedlab"]}  # fmt: skip
    spec = known(str(base_model))
    meta["base_model"] = spec.hub_id if spec is not None else str(base_model)
    if spec is not None:
        meta["license"] = spec.license
    if datasets:
        meta["datasets"] = list(dict.fromkeys(datasets))
    results = [_model_index_result(r) for r in after if r.metric == SPEARMAN and r.task in STS_TASKS]
    if results:
        meta["model-index"] = [{"name": name, "results": results}]
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)


def _model_index_result(record: EvalRecord) -> dict:
    spec = STS_TASKS[record.task]
    hub_id, hub_split = spec.hub.get(record.split, (None, record.split))
    dataset = {"name": _title(record.task, record.split), "type": hub_id or record.task, "split": hub_split}
    metric = {"type": "spearman_cosine", "value": round(record.value / 100, 4), "name": "Spearman (cosine)"}
    return {"task": {"type": "semantic-similarity", "name": "Semantic Similarity"}, "dataset": dataset,
            "metrics": [metric]}  # fmt: skip


def _evaluation(after: Sequence[EvalRecord], before: Sequence[EvalRecord] | None, before_note: str) -> str:
    parts = []
    headers, rows = table_rows(after, before)
    if rows or not after:
        parts.append(
            "Spearman and Pearson correlation (×100) of cosine similarity with the gold scores, on the split "
            "named in each row (SICK-R full: the 9,927-pair release that MTEB scores)."
            f"{before_note}\n\n{markdown_table(headers, rows)}"
        )
    headers, rows = retrieval_rows(after, before)
    if rows:
        parts.append(
            "Retrieval (×100, cosine over the task's whole corpus; the measures `pytrec_eval` gives), on "
            "queries never trained on — `embedlab eval MODEL --tasks retrieval:DIR` gives the same figures."
            f"{before_note}{_long_documents_note(after)}\n\n{markdown_table(headers, rows)}"
        )
    return "\n\n".join(parts)


def _long_documents_note(records: Sequence[EvalRecord]) -> str:
    from embedlab.evaluate.long_documents import long_documents_notes

    notes = [f"{r.task.removeprefix('retrieval:')}: {note}" for r, note in long_documents_notes(records)]
    return f" Documents longer than the model reads — {'; '.join(notes)}." if notes else ""


def spread_row(task: str, split: str, values: list[float]) -> dict:
    """Mean, sample standard deviation, min, max and the values of one figure over seeds.

    Example::

        spread_row("stsb", "test", [85.9, 86.2, 85.7])  # {"mean": 85.93, "std": 0.25, "min": 85.7, ...}
    """
    return {
        "task": task,
        "split": split,
        "mean": round(statistics.fmean(values), 2),
        "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "values": [round(v, 2) for v in values],
        "n": len(values),
    }
