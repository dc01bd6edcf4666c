"""Models from scratch: a byte-level BPE tokenizer (RoBERTa special tokens) and a randomly initialised
RoBERTa-style encoder wrapped as a SentenceTransformer with mean pooling."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


@dataclass(frozen=True)
class CorpusStats:
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
) -> CorpusStats:
    """Train byte-level BPE on `texts` and save it (atomically) so `transformers.AutoTokenizer` loads it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

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
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", tokenizer.token_to_id("</s>")),  # sep
        ("<s>", tokenizer.token_to_id("<s>")),  # cls
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
    out = Path(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if out.parent.exists() else None))
    wrapped.save_pretrained(str(staging))
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staging), out)
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
    projection_dim: int | None = None,
    seed: int = 42,
) -> SentenceTransformer:
    """A randomly initialised RoBERTa-style encoder + mean pooling (+ a linear projection to
    `projection_dim`, for distilling into a teacher of another width)."""
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
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    with tempfile.TemporaryDirectory() as folder:
        RobertaModel(config).save_pretrained(folder)  # with its (unused) pooler, so reloading is exact
        tokenizer.save_pretrained(folder)
        transformer = Transformer(folder, max_seq_length=max_length)
    modules = [transformer, Pooling(hidden, pooling_mode="mean")]
    if projection_dim:
        modules.append(Dense(hidden, projection_dim, bias=True, activation_function=torch.nn.Identity()))
    return SentenceTransformer(modules=modules, device="cpu")


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
