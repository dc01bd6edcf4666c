"""The arXiv domain-adaptation pipeline's config: one YAML file, validated, with `--set a.b=c` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from embedlab.config import (
    LossConfig,
    RunFolder,
    Strict,
    TrainingConfig,
    validate_config,
)
from embedlab.evaluate.arxiv import ArxivEvalConfig, TextField


class ArxivDataConfig(Strict):
    """Where the papers come from and how they are split.

    Example::

        ArxivDataConfig(label_level="category", min_papers=200)
    """

    path: str | None = None  # default: $EMBEDLAB_DATA_DIR/arxiv/papers.jsonl.gz
    label_level: Literal["subject", "category"] = "subject"  # subject (e.g. math) or category (e.g. math.PR)
    min_papers: int = Field(default=100, gt=0)  # labels with fewer papers are set aside
    eval_fraction: float = Field(default=0.05, gt=0, lt=1)  # share of papers for the eval split
    test_fraction: float = Field(default=0.10, gt=0, lt=1)  # share of papers for the test split
    # The benchmark's seed: the split, the classifier's training sample and the eval-split sample that picks
    # the checkpoint. Default: the run's `seed`. Fixing it while `seed` varies compares training seeds on
    # one benchmark (`embedlab pipeline --seeds`).
    seed: int | None = None


class PairsConfig(Strict):
    """Which training pairs are drawn from the training papers, and how many.

    Example::

        PairsConfig(kinds=["title-abstract"], train_pairs=5_000, hard_negatives=True)
    """

    # same-category: positives share the paper's primary category (math.PR), finer than its subject label
    kinds: list[Literal["same-label", "same-category", "title-abstract"]] = Field(
        default_factory=lambda: ["same-label", "title-abstract"]  # type: ignore[arg-type]
    )
    anchor_field: TextField = "title"  # the pair's first text
    positive_field: TextField = "abstract"  # the pair's second text
    balance: bool = True  # anchors drawn equally from every label (small subjects weigh as much as large)
    train_pairs: int = Field(default=20_000, gt=0)  # training pairs drawn
    eval_pairs: int = Field(default=2_000, gt=0)  # eval-split pairs drawn
    hard_negatives: bool = False  # mine with the base model: the most similar paper of another label
    hard_negative_pool: int = Field(default=20_000, gt=0)  # abstracts searched for hard negatives


class PipelineConfig(RunFolder):
    """The whole arXiv pipeline: data, pairs, loss, training and evaluation (`configs/arxiv-*.yaml`).

    Example::

        config = PipelineConfig(name="arxiv-demo", pairs=PairsConfig(train_pairs=2_000))
        config.run_dir  # Path("runs/arxiv-demo")
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    model: str = "all-MiniLM-L6-v2"
    seed: int = 42
    output_dir: str = "runs"
    data: ArxivDataConfig = Field(default_factory=ArxivDataConfig)  # papers: cleaning, labels, splits
    pairs: PairsConfig = Field(default_factory=PairsConfig)  # the training pairs drawn from the papers
    loss: LossConfig = Field(default_factory=lambda: LossConfig(name="mnrl"))  # the loss (MNRL by default)
    training: TrainingConfig = Field(default_factory=TrainingConfig)  # optimiser and schedule
    eval: ArxivEvalConfig = Field(default_factory=ArxivEvalConfig)  # what the pipeline reports

    # Where each stage keeps its output, spelled once: RUN/{data, pairs, train/model, eval}.
    @property
    def data_dir(self) -> Path:
        """The prepared splits (`RUN/data`)."""
        return self.run_dir / "data"

    @property
    def pairs_dir(self) -> Path:
        """The training and eval pairs as Parquet (`RUN/pairs`)."""
        return self.run_dir / "pairs"

    @property
    def train_dir(self) -> Path:
        """The fine-tuning run folder (`RUN/train`: checkpoints/, model/, metrics)."""
        return self.run_dir / "train"

    @property
    def model_dir(self) -> Path:
        """The fine-tuned model (`RUN/train/model`)."""
        return self.train_dir / "model"

    @property
    def eval_dir(self) -> Path:
        """One JSON file of test-split results per system (`RUN/eval`)."""
        return self.run_dir / "eval"

    @property
    def data_seed(self) -> int:
        """The seed of the split and of the evaluation samples: `data.seed`, else the run's `seed`."""
        return self.seed if self.data.seed is None else self.data.seed

    @property
    def labelled_pairs(self) -> bool:
        """Whether the training pairs carry a `label` column (for distinct-label batches or label masking)."""
        return self.training.batches == "distinct-labels" or self.loss.mask_same_label

    @model_validator(mode="after")
    def _compatible(self) -> PipelineConfig:
        if self.data.eval_fraction + self.data.test_fraction >= 1:
            raise ValueError("data.eval_fraction + data.test_fraction must leave papers for training")
        if self.loss.name not in ("mnrl", "cached-mnrl", "contrastive"):
            raise ValueError("loss.name: the arXiv pipeline trains with mnrl, cached-mnrl or contrastive")
        if self.loss.name == "contrastive" and self.pairs.hard_negatives:
            raise ValueError("pairs.hard_negatives needs an in-batch-negatives loss (mnrl, cached-mnrl)")
        if self.loss.name == "contrastive" and self.labelled_pairs:
            raise ValueError(
                "training.batches distinct-labels is for in-batch-negatives losses (mnrl, cached-mnrl)"
            )
        return self


def load_pipeline_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """The arXiv pipeline's config (`embedlab pipeline CONFIG.yaml`), validated.

    Example::

        config = load_pipeline_config("configs/arxiv-minilm.yaml", ["pairs.train_pairs=5000"])
    """
    return validate_config(PipelineConfig, path, overrides)
