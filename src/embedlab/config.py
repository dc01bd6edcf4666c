"""Run configs: pydantic models, YAML loading, `--set a.b=c` overrides, and errors a user can act on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from embedlab.data.files import PairColumns
from embedlab.data.sts import STS_SUITE
from embedlab.errors import ConfigError, format_validation_error


@dataclass(frozen=True)
class LossSpec:
    """One training loss: its sentence-transformers class, where it comes from, and the data it needs."""

    cls: str
    paper: str
    needs: str
    in_batch_negatives: bool = False
    positive_threshold: float | None = None  # default score threshold (0–1 scale) for a positive pair
    options: tuple[str, ...] = ()  # LossConfig fields passed to the class


# The one table of losses: config validation, the trainer and the documentation all read it.
LOSSES: dict[str, LossSpec] = {
    "cosent": LossSpec(
        "CoSENTLoss", "Su, 2022 (CoSENT)", "scored pairs, ranked by score", options=("scale",)
    ),
    "angle": LossSpec(
        "AnglELoss", "Li & Li, 2023 (AnglE)", "scored pairs, ranked by score", options=("scale",)
    ),
    "cosine": LossSpec(
        "CosineSimilarityLoss", "Reimers & Gurevych, 2019 (SBERT)", "scored pairs, scores rescaled to 0–1"
    ),
    "mnrl": LossSpec(
        "MultipleNegativesRankingLoss",
        "Henderson et al., 2017",
        "anchor/positive pairs (scored pairs above the threshold); the rest of the batch are negatives",
        in_batch_negatives=True,
        positive_threshold=0.8,
        options=("scale",),
    ),
    "cached-mnrl": LossSpec(
        "CachedMultipleNegativesRankingLoss",
        "Gao et al., 2021 (GradCache)",
        "as mnrl, with large batches in bounded memory",
        in_batch_negatives=True,
        positive_threshold=0.8,
        options=("scale", "mini_batch_size"),
    ),
    "contrastive": LossSpec(
        "ContrastiveLoss",
        "Hadsell et al., 2006",
        "pairs labelled 1 at or above the threshold, else 0",
        positive_threshold=0.5,
        options=("margin",),
    ),
    "mse": LossSpec(
        "MSELoss",
        "Reimers & Gurevych, 2020 (distillation)",
        "sentences with the teacher's embedding (distill:)",
    ),
}
IN_BATCH_NEGATIVES = frozenset(name for name, spec in LOSSES.items() if spec.in_batch_negatives)
LossName = Literal["cosent", "angle", "cosine", "mnrl", "cached-mnrl", "contrastive", "mse"]
assert set(get_args(LossName)) == set(LOSSES), "LossName must list exactly the LOSSES table's names"


ConfigT = TypeVar("ConfigT", bound=BaseModel)


class Strict(BaseModel):
    """A config section that rejects unknown keys (a typo is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RunFolder(Strict):
    """A config that writes OUTPUT_DIR/NAME/ and saves itself there as YAML."""

    name: str  # the run's name: runs/NAME/
    output_dir: str  # the folder of runs

    @property
    def run_dir(self) -> Path:
        """The run's folder: `output_dir/name`."""
        return Path(self.output_dir) / self.name

    def to_yaml(self) -> str:
        """The config as YAML, as saved beside the run (`RUN/config.yaml`)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


class DataSource(Strict):
    """A benchmark split (`task` + `split`), the user's own pair file (`path`), or unlabelled `sentences`
    (named sources or files, see embedlab.data.sentences) for unsupervised SimCSE: each sentence is its own
    positive, the two copies differing only by dropout; or `nli` sources (snli:dev, snli:train-sample,
    mnli:train-sample), whose entailment pairs are anchor/positive pairs for in-batch-negatives training.
    """

    task: str | None = None  # a built-in dataset: stsb, sickr, nli, snli, mrpc, arxiv, ...
    split: str | None = None  # its split: train, dev, test
    path: str | None = None  # or your own CSV/TSV/JSONL/Parquet file
    sentences: list[str] | None = None  # unlabelled sentences (distillation, SimCSE)
    nli: list[str] | None = None  # NLI files for (anchor, entailment, contradiction) triplets
    columns: PairColumns = Field(default_factory=PairColumns)
    format: Literal["csv", "tsv", "jsonl", "parquet"] | None = None
    max_pairs: int | None = Field(default=None, gt=0)  # a seeded sample of this many pairs
    hard_negatives: bool = False  # nli: each premise's contradiction as the hard negative of its entailment
    score_range: tuple[float, float] | None = None  # for losses that need [0, 1]; default: task's or data's

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        if sum(x is not None for x in (self.task, self.path, self.sentences, self.nli)) != 1:
            raise ValueError(
                "give exactly one of 'task' (a benchmark such as stsb), 'path' (a pair file), "
                "'sentences' (unlabelled sentence sources) or 'nli' (NLI sources, entailment pairs)"
            )
        if self.hard_negatives and self.nli is None:
            raise ValueError(
                "hard_negatives: only with 'nli' sources (their contradictions are the negatives)"
            )
        return self

    @property
    def scored(self) -> bool:
        """Scored pairs (a benchmark split or a pair file), as opposed to anchor/positive data."""
        return self.task is not None or self.path is not None

    def describe(self) -> str:
        """A short description of the data source for logs and model cards."""
        if self.sentences is not None:
            return "sentences of " + ", ".join(self.sentences)
        if self.nli is not None:
            return "entailment pairs of " + ", ".join(self.nli)
        return f"{self.task}:{self.split or 'default'}" if self.task else str(self.path)


class RetrievalData(Strict):
    """Training data for retrieval (`retrieval:` in a run config): the user's documents with a field
    mapping, or a pairs file; queries held out by hash (`held_out`, `dev_queries`), never trained on; hard
    negatives mined with the starting model by `sentence_transformers.util.mine_hard_negatives`.

    Example::

        RetrievalData(documents="papers.jsonl", query_field="title", document_field="abstract",
                      label_field="category", hard_negatives=1)
    """

    documents: str | None = None  # one document a row (JSONL, CSV, TSV, Parquet)
    query_field: str | None = None  # documents: the field that queries its own document (pairs: query)
    document_field: str | None = None  # documents: the text to retrieve (pairs: positive)
    label_field: str | None = None  # documents: negatives and in-batch negatives never of the query's label
    id_field: str | None = None  # documents: default the row number
    pairs: str | None = None  # a pairs file: query, positive, optional negative
    negative_field: str = "negative"  # pairs: used when the file has it
    held_out: float = Field(default=0.1, gt=0, lt=1)  # fraction of queries for the held-out test task
    dev_queries: int = Field(default=300, ge=0)  # of the rest: chooses the checkpoint
    corpus_size: int = Field(default=10_000, gt=0)  # documents each held-out task searches (own included)
    max_pairs: int | None = Field(default=None, gt=0)  # training pairs, a seeded sample
    hard_negatives: int = Field(default=0, ge=0)  # mined negatives per pair (0: in-batch negatives only)
    range_max: int = Field(default=50, gt=0)  # mining: candidates among the nearest documents
    relative_margin: float | None = Field(default=0.05, ge=0)  # mining: a negative 5% below the positive
    # where relevant means "of the same label" (topic search): this fraction of the pairs takes another
    # training document of the query's label as its positive, and dev counts those documents relevant
    label_positives: float = Field(default=0.0, ge=0, le=1)  # this share of positives from the query's label

    @model_validator(mode="after")
    def _one_kind(self) -> RetrievalData:
        if (self.documents is None) == (self.pairs is None):
            raise ValueError("give 'documents' (with query_field and document_field) or 'pairs', not both")
        if self.documents is not None and not (self.query_field and self.document_field):
            raise ValueError("documents: name query_field and document_field (e.g. title and abstract)")
        if self.pairs is not None and (self.label_field or self.id_field):
            raise ValueError("label_field and id_field go with 'documents', not 'pairs'")
        if self.label_positives and not self.label_field:
            raise ValueError("label_positives draws positives of the query's label: name label_field")
        return self

    def describe(self) -> str:
        """A short description for logs and model cards."""
        if self.pairs is not None:
            return f"retrieval pairs {self.pairs}"
        return f"{self.documents}: {self.query_field} → {self.document_field}"


class CrossEncoderConfig(Strict):
    """A reranker run (`cross_encoder:` in a run config): sentence-transformers' `CrossEncoder` and its
    trainer, started from `model` (an embedding model's transformer with a new one-output head). With
    `retrieval:` data it learns to rank: (query, positive) against hard negatives the `retriever` mines, and
    is scored by reranking the retriever's top `depth` on the held-out queries; with scored `train:` pairs
    (STS-B) it learns similarity, scored by Spearman.

    Example::

        CrossEncoderConfig(loss="bce", retriever="all-MiniLM-L6-v2", depth=50)
    """

    loss: Literal["bce", "lambda", "listnet", "mnrl"] = "bce"  # sentence_transformers.cross_encoder.losses
    retriever: str | None = None  # the embedding model that mines and retrieves; default the run's model
    depth: int = Field(default=50, gt=0)  # candidates of the retriever the reranker reorders
    max_length: int = Field(default=256, gt=0)  # tokens of query and document together


class LossConfig(Strict):
    """The loss and its settings; `name` is one of `LOSSES`.

    Example::

        LossConfig(name="mnrl", scale=20.0)
    """

    name: LossName = "cosent"  # the loss (the table of losses below)
    scale: float | None = Field(default=None, gt=0)  # cosent/angle/mnrl; None = the library default
    margin: float = Field(default=0.5, ge=0)  # contrastive
    positive_threshold: float | None = Field(
        default=None, ge=0, le=1
    )  # mnrl/contrastive, on the [0, 1] scale
    mini_batch_size: int = Field(default=32, gt=0)  # cached-mnrl
    matryoshka_dims: list[int] | None = None  # also train these leading widths (Matryoshka), e.g. [256, 128]
    # mnrl: another row's positive with the anchor's label (the data's `label` column) leaves the anchor's
    # softmax — large random batches of labelled pairs push no same-label text away
    mask_same_label: bool = False  # no in-batch negative of the anchor's own label

    @model_validator(mode="after")
    def _mask_needs_mnrl(self) -> LossConfig:
        if self.mask_same_label and self.name != "mnrl":
            raise ValueError(f"loss.mask_same_label works with loss mnrl only (not {self.name})")
        return self

    @model_validator(mode="after")
    def _dims_descending(self) -> LossConfig:
        dims = self.matryoshka_dims
        if dims is not None and (not dims or any(d <= 0 for d in dims) or dims != sorted(dims, reverse=True)):
            raise ValueError(
                "matryoshka_dims must be positive and in descending order, e.g. [384, 256, 128, 64]"
            )
        return self


class TrainingConfig(Strict):
    """Trainer settings: epochs or steps, batch size, learning rate, precision, checkpoints, tracking.

    Example::

        TrainingConfig(epochs=4, batch_size=16, learning_rate=2e-5, report_to=["tensorboard"])
    """

    epochs: float = Field(default=1.0, gt=0)  # passes over the training pairs
    max_steps: int | None = Field(default=None, gt=0)  # overrides epochs when set
    batch_size: int = Field(default=32, gt=0)  # pairs per step
    learning_rate: float = Field(default=2e-5, gt=0)  # peak learning rate
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)  # share of steps warming the rate up
    weight_decay: float = Field(default=0.01, ge=0)  # AdamW weight decay
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    eval_steps: int | None = Field(default=None, gt=0)  # None: evaluate and checkpoint once per epoch
    save_total_limit: int = Field(default=2, gt=0)  # checkpoints kept
    logging_steps: int = Field(default=10, gt=0)  # steps between loss lines
    max_seq_length: int | None = Field(default=None, gt=0)  # tokens read per text (default: the model's)
    bf16: Literal["auto"] | bool = "auto"  # auto: only on CPUs with AMX (or CUDA GPUs with bf16)
    # how rows are grouped into batches. auto: for in-batch-negative losses, no text twice in a batch.
    # distinct-labels: also no two rows of one label (a `label` column, as the arXiv pipeline's pairs have),
    # so no in-batch negative shares the anchor's subject; batch_size at most the number of labels
    batches: Literal["auto", "distinct-labels"] = "auto"
    # experiment trackers, local and offline by default: they write under runs/NAME/tracking/
    report_to: list[Literal["none", "tensorboard", "mlflow", "trackio"]] = Field(
        default_factory=lambda: ["none"]  # type: ignore[arg-type]
    )


class EvalConfig(Strict):
    """Which tasks to score after training (and before, for a before/after table).

    Example::

        EvalConfig(tasks=["stsb", "sickr"], before=False)
    """

    tasks: list[str] = Field(default_factory=lambda: list(STS_SUITE))  # STS tasks scored before and after
    before: bool = True  # also evaluate the starting model, for a before/after table
    batch_size: int = Field(default=64, gt=0)  # texts per encoding batch


class ScratchConfig(Strict):
    """A randomly initialised RoBERTa-style encoder (used when `model: scratch`)."""

    tokenizer: str  # a folder written by `embedlab tokenizer train`
    layers: int = Field(default=7, gt=0)  # transformer layers
    hidden: int = Field(default=480, gt=0)  # hidden width
    heads: int = Field(default=12, gt=0)  # lowered to the nearest count that divides `hidden`
    intermediate: int | None = Field(default=None, gt=0)  # default 4 × hidden
    max_length: int = Field(default=128, gt=0)  # tokens per text
    dropout: float = Field(default=0.1, ge=0, lt=1)  # hidden and attention; SimCSE's noise comes from it


class DistillConfig(Strict):
    """Learn to reproduce a teacher's embeddings (MSE) on unlabelled sentences."""

    teacher: str = "all-MiniLM-L6-v2"  # the model taught from
    sentences: list[str] = Field(default_factory=lambda: ["stsb:train", "snli:dev", "mrpc:train", "arxiv"])
    max_sentences: int | None = Field(default=200_000, gt=0)  # at most this many distillation sentences
    projection: bool = True  # a linear layer from the student's width to the teacher's
    teacher_batch_size: int = Field(default=128, gt=0)  # texts per teacher batch
    # model: scratch only: token embeddings start from the teacher's embedding of each token's text and
    # every layer starts as the identity, so training begins from a bag-of-tokens model, not from noise
    init_embeddings: bool = False  # start the token embeddings from the teacher's


class StageConfig(Strict):
    """One stage of a staged run (`stages:`): its own data, loss and training; it starts from the model the
    stage before it made (the first from the run's `model`).

    Example::

        nli = DataSource(nli=["snli:dev"], hard_negatives=True)
        StageConfig(name="nli", train=nli, loss=LossConfig(name="mnrl"))
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # the stage's name: runs/RUN/NAME/
    train: DataSource  # the training pairs
    dev: DataSource | None = None  # default: the run's dev split
    loss: LossConfig = Field(default_factory=LossConfig)  # the loss and its settings
    training: TrainingConfig = Field(default_factory=TrainingConfig)  # optimiser and schedule

    @model_validator(mode="after")
    def _consistent(self) -> StageConfig:
        if not self.train.scored and self.loss.name not in IN_BATCH_NEGATIVES:
            raise ValueError(
                f"stage {self.name}: NLI and unlabelled data train with loss mnrl or cached-mnrl"
            )
        if self.loss.name == "mse":
            raise ValueError(f"stage {self.name}: distillation (mse) is not a stage; distill in its own run")
        return self


class RunConfig(RunFolder):
    """One training run (`embedlab train CONFIG.yaml`): model, data, loss, training, evaluation.

    Example::

        config = load_config("configs/stsb-minilm.yaml", ["training.epochs=1"])
        config.run_dir  # Path("runs/stsb-minilm")
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # the run's name: runs/NAME/
    model: str  # a name, folder or hub id; `scratch` builds one from the `scratch` section
    seed: int = 42  # seed of data order, splits and initialisation
    output_dir: str = "runs"  # the folder of runs
    scratch: ScratchConfig | None = None  # build a new encoder (model: scratch)
    distill: DistillConfig | None = None  # learn from a teacher's vectors
    train: DataSource | None = None  # not needed when distilling
    retrieval: RetrievalData | None = None  # instead of train: queries and documents, held-out evaluation
    dev: DataSource | None = Field(default_factory=lambda: DataSource(task="stsb", split="dev"))
    loss: LossConfig = Field(default_factory=LossConfig)  # the loss and its settings
    training: TrainingConfig = Field(default_factory=TrainingConfig)  # optimiser and schedule
    eval: EvalConfig = Field(default_factory=EvalConfig)  # what the card reports
    stages: list[StageConfig] | None = None  # train in stages (NLI, then STS-B), each into runs/NAME/STAGE
    cross_encoder: CrossEncoderConfig | None = None  # train a reranker, not an embedding model

    @model_validator(mode="before")
    @classmethod
    def _retrieval_defaults(cls, raw):
        """Retrieval data trains with MNRL and chooses its checkpoint on its own dev queries, not STS-B."""
        if isinstance(raw, dict) and raw.get("retrieval") is not None:
            if raw.get("dev") is not None:
                raise ValueError("with retrieval data its dev queries choose the checkpoint: remove 'dev'")
            raw = {**raw, "dev": None, "loss": raw.get("loss") or {"name": "mnrl"}}
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.stages is not None:
            return self._consistent_stages()
        if (self.model == "scratch") != (self.scratch is not None):
            raise ValueError("a 'scratch' section goes with model: scratch (and model: scratch needs one)")
        if self.cross_encoder is not None:
            return self._consistent_cross_encoder()
        if self.retrieval is not None:
            return self._consistent_retrieval()
        return self._consistent_pairs()

    def _consistent_cross_encoder(self) -> RunConfig:
        reranker = self.cross_encoder
        assert reranker is not None
        if self.scratch is not None or self.distill is not None:
            raise ValueError(
                "cross_encoder: a reranker starts from a model's transformer: no scratch/distill"
            )
        if (self.retrieval is None) == (self.train is None):
            raise ValueError("cross_encoder: give 'retrieval' data (ranking) or scored 'train' pairs (STS)")
        if self.train is not None and (not self.train.scored or reranker.loss != "bce"):
            raise ValueError("cross_encoder with 'train' learns similarity from scored pairs with loss bce")
        needs_negatives = reranker.loss in ("bce", "lambda", "listnet")
        if self.retrieval is not None and needs_negatives and self.retrieval.hard_negatives < 1:
            raise ValueError(
                f"cross_encoder.loss {reranker.loss} learns from mined negatives: "
                "set retrieval.hard_negatives"
            )
        return self

    def _consistent_pairs(self) -> RunConfig:
        if self.distill is None and self.train is None:
            raise ValueError("train: required unless the run distills from a teacher (distill section)")
        if self.distill is not None and self.train is not None:
            raise ValueError("give either 'train' data or a 'distill' section, not both")
        if self.distill is not None and self.loss.name != "mse":
            raise ValueError("distillation trains with loss.name: mse")
        if self.distill is not None and self.distill.init_embeddings and self.scratch is None:
            raise ValueError("distill.init_embeddings starts a scratch encoder: it needs model: scratch")
        if self.distill is None and self.loss.name == "mse":
            raise ValueError("loss mse needs a distill section (the teacher's embeddings are its targets)")
        if self.train is not None and not self.train.scored and self.loss.name not in IN_BATCH_NEGATIVES:
            raise ValueError(
                "unlabelled sentences (SimCSE) and NLI entailment pairs train with loss mnrl or cached-mnrl"
            )
        if self.dev is not None and not self.dev.scored:
            raise ValueError("dev needs scored pairs: a 'task' (such as stsb) or a pair file 'path'")
        return self

    def _consistent_retrieval(self) -> RunConfig:
        if self.train is not None or self.distill is not None:
            raise ValueError("give either 'retrieval' data or 'train' / 'distill', not both")
        if self.loss.name not in IN_BATCH_NEGATIVES:
            raise ValueError("retrieval data trains with loss mnrl or cached-mnrl")
        if self.loss.mask_same_label and self.retrieval.label_field is None:  # type: ignore[union-attr]
            raise ValueError("loss.mask_same_label needs retrieval.label_field")
        return self

    def _consistent_stages(self) -> RunConfig:
        if not self.stages:
            raise ValueError("stages: give at least one stage")
        if any(x is not None for x in (self.train, self.distill, self.scratch, self.retrieval)):
            raise ValueError(
                "a staged run gives its data in each stage: no top-level train, distill, scratch or retrieval"
            )
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stages: names must differ, got {names}")
        for stage in self.stages:
            if (stage.dev or self.dev) is not None and not (stage.dev or self.dev).scored:  # type: ignore[union-attr]
                raise ValueError(f"stage {stage.name}: dev needs scored pairs")
        return self


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one `a.b.c=value` to a nested dict; the value is parsed as YAML (numbers, lists, booleans)."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"overrides: each is key=value (--set), got '{assignment}'")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def read_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """A YAML config file as a dict with `--set` overrides applied; unreadable or malformed files are
    ConfigErrors naming the file (and line).
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    for assignment in overrides or []:
        apply_override(raw, assignment)
    return raw


def validate_config(model: type[ConfigT], path: str | Path, overrides: list[str] | None = None) -> ConfigT:
    """Read a YAML config (with `--set` overrides) into `model`; a problem is one ConfigError naming the key.

    Example::

        config = validate_config(RunConfig, "configs/stsb-minilm.yaml", ["training.epochs=2"])
    """
    raw = read_config(path, overrides)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(str(path), error)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """A training run's config (`embedlab train CONFIG.yaml`), validated.

    Example::

        config = load_config("configs/stsb-minilm.yaml", ["loss.name=angle"])
    """
    return validate_config(RunConfig, path, overrides)
