"""Shared fixtures: fixture files, and a tiny random-init BERT sentence-transformer built from a config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Words for the tiny model's vocabulary: enough that fixture and STS sentences are not all [UNK].
VOCAB_TEXT = """
a an the man woman men women child kid dog cat plane girl boy people person is are was plays playing play
guitar flute piano reading reads book slicing cutting cuts onion tomato kite flying runs running park
sits sitting mat fighting dancing taking off air sun shining sunny day it on in of and to with at stock
market fell today two three some someone riding horse car street water eating food sings singing
"""


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-dim BERT with random weights, saved as a sentence-transformers folder (mean pooling)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-bert")
    backbone = root / "backbone"
    backbone.mkdir()
    words = sorted(set(re.findall(r"[a-z]+", VOCAB_TEXT)))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (backbone / "vocab.txt").write_text("\n".join(specials + list(".,!?'") + words) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(backbone / "vocab.txt"), do_lower_case=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(backbone)
    tokenizer.save_pretrained(backbone)
    transformer = Transformer(str(backbone), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode="mean")], device="cpu")
    model_dir = root / "model"
    model.save(str(model_dir), create_model_card=False)
    return model_dir


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="session")
def minilm():
    from embedlab.models import load_model

    return load_model("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def other_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with different weights (same width, same pooling): a different model."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    out = tmp_path_factory.mktemp("other-bert") / "model"
    model.save(str(out), create_model_card=False)
    return out
