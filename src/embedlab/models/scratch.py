"""Models from scratch: a byte-level BPE tokenizer (RoBERTa special tokens) and a randomly initialised
RoBERTa-style encoder wrapped as a SentenceTransformer with mean pooling.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedlab.errors import ConfigError
from embedlab.io import atomic_dir, check_output_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from transformers import RobertaModel

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


@dataclass(frozen=True)
class CorpusStats:
    """Size of a tokenizer-training corpus: texts, characters, words."""

    texts: int
    characters: int
    words: int


def train_tokenizer(
    texts: Iterable[str],
    out: str | Path,
    *,
    vocab_size: int = 32000,
    min_frequency: int = 2,
    max_length: int = 128,
    force: bool = False,
    inputs: Iterable[str | Path] = (),
) -> CorpusStats:
    """Train byte-level BPE on `texts` and save it (atomically) so `transformers.AutoTokenizer` loads it;
    `inputs`: the files the texts come from, which `out` may not be or hold.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    check_output_dir(out, kind="tokenizer", force=force, inputs=inputs)
    counts = {"texts": 0, "characters": 0, "words": 0}

    def counted() -> Iterable[str]:
        for text in texts:
            counts["texts"] += 1
            counts["characters"] += len(text)
            counts["words"] += len(text.split())
            yield text

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=True,
    )
    tokenizer.train_from_iterator(counted(), trainer)
    if counts["texts"] == 0:
        raise ConfigError("the tokenizer corpus is empty")
    sep, cls = tokenizer.token_to_id("</s>"), tokenizer.token_to_id("<s>")
    assert sep is not None and cls is not None  # both are in the trainer's special tokens
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", sep),
        ("<s>", cls),
        trim_offsets=True,
        add_prefix_space=False,
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=max_length,
    )
    with atomic_dir(out, kind="tokenizer") as staging:
        wrapped.save_pretrained(str(staging))
    return CorpusStats(**counts)


def fertility(tokenizer_dir: str | Path, sentences: list[str]) -> float:
    """Tokens per whitespace-separated word (special tokens not counted): 1.0 = one token per word."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    tokens = sum(len(ids) for ids in tokenizer(sentences, add_special_tokens=False)["input_ids"])
    return tokens / max(1, sum(len(s.split()) for s in sentences))


def dividing_heads(hidden: int, wanted: int) -> int:
    """The largest head count ≤ `wanted` that divides the hidden size."""
    return next(h for h in range(min(wanted, hidden), 0, -1) if hidden % h == 0)


def build_scratch_model(
    tokenizer_dir: str | Path,
    *,
    layers: int = 7,
    hidden: int = 480,
    heads: int = 12,
    intermediate: int | None = None,
    max_length: int = 128,
    dropout: float = 0.1,
    projection_dim: int | None = None,
    token_vectors: np.ndarray | None = None,
    seed: int = 42,
) -> SentenceTransformer:
    """A randomly initialised RoBERTa-style encoder + mean pooling (+ a linear projection to
    `projection_dim`, for distilling into a teacher of another width).

    With `token_vectors` (one row per token id, any width) the encoder starts as a bag of tokens instead
    of noise: see `warm_start`.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling
    from transformers import AutoTokenizer, RobertaConfig, RobertaModel

    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise ConfigError(
            f"{tokenizer_dir}: no tokenizer here; train one first: "
            f"embedlab tokenizer train CORPUS... --out {tokenizer_dir}"
        )
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=dividing_heads(hidden, heads),
        intermediate_size=intermediate or 4 * hidden,
        max_position_embeddings=max_length + 2,  # RoBERTa positions start after the padding index
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    backbone = RobertaModel(config)
    if token_vectors is not None:
        warm_start(backbone, token_vectors, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        backbone.save_pretrained(folder)  # with its (unused) pooler, so reloading is exact
        tokenizer.save_pretrained(folder)
        transformer = Transformer(folder, max_seq_length=max_length)
    modules = [transformer, Pooling(hidden, pooling_mode="mean")]
    if projection_dim:
        modules.append(Dense(hidden, projection_dim, bias=True, activation_function=torch.nn.Identity()))
    return SentenceTransformer(modules=modules, device="cpu")


def fit_width(vectors: np.ndarray, width: int, seed: int = 42) -> np.ndarray:
    """`vectors` mapped to `width` columns keeping their geometry: PCA when narrowing, a random
    orthonormal embedding when widening (inner products are kept exactly).
    """
    centred = vectors - vectors.mean(axis=0)
    if width <= vectors.shape[1]:
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        return centred @ components[:width].T
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((width, vectors.shape[1])))
    return centred @ basis.T


def warm_start(backbone: RobertaModel, token_vectors: np.ndarray, seed: int = 42) -> None:
    """Start a random encoder as a bag of tokens: token embeddings from `token_vectors` (fitted to the
    hidden width, scaled to unit variance per dimension so the random position embeddings are small beside
    them), and each layer's two output projections at zero, so that every post-LayerNorm block begins as the
    identity. Mean pooling of the untrained model is then a static model of those vectors; the attention and
    feed-forward weights (still random) start learning as soon as their output projections move.
    """
    import torch

    embeddings = backbone.embeddings.word_embeddings.weight
    if token_vectors.shape[0] != embeddings.shape[0]:
        raise ConfigError(
            f"token vectors have {token_vectors.shape[0]:,} rows for a vocabulary of {embeddings.shape[0]:,}"
        )
    fitted = fit_width(token_vectors.astype(np.float64), embeddings.shape[1], seed)
    fitted /= fitted.std() or 1.0
    with torch.no_grad():
        embeddings.copy_(torch.from_numpy(fitted).to(embeddings.dtype))
        pad = backbone.config.pad_token_id
        if pad is not None:
            embeddings[pad].zero_()
        for layer in backbone.encoder.layer:
            for projection in (layer.attention.output.dense, layer.output.dense):
                projection.weight.zero_()
                projection.bias.zero_()


def parameter_count(model) -> int:
    """Number of parameters of a torch module.

    Example::

        parameter_count(SentenceTransformer("all-MiniLM-L6-v2"))  # 22713216
    """
    return sum(p.numel() for p in model.parameters())
