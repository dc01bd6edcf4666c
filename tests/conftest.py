"""Shared fixtures: fixture files, tiny random-init models built from a config, a trained BPE tokenizer, an
exported ONNX folder and a generated arXiv corpus with its splits."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.corpora import CORPUS, write_corpus, write_data_folder

FIXTURES = Path(__file__).parent / "fixtures"

# Words for the tiny model's vocabulary: enough that fixture and STS sentences are not all [UNK].
VOCAB_TEXT = """
a an the man woman men women child kid dog cat plane girl boy people person is are was plays playing play
guitar flute piano reading reads book slicing cutting cuts onion tomato kite flying runs running park
sits sitting mat fighting dancing taking off air sun shining sunny day it on in of and to with at stock
market fell today two three some someone riding horse car street water eating food sings singing
"""


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data_folder(tmp_path_factory.mktemp("data"))


@pytest.fixture(autouse=True)
def _fp32_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Torch encodes in fp32 in every test, so that vectors compare exactly on every CPU: on AMX CPUs the
    default is bf16 autocast (`hardware.inference_bf16`), tested on its own with mocked CPU facts."""
    monkeypatch.setenv("EMBEDLAB_TORCH_BF16", "0")


@pytest.fixture(autouse=True)
def _data_folder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests read a small synthetic data folder; only `integration` tests read the real benchmarks."""
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(request.getfixturevalue("synthetic_data")))


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


def make_tiny_model(root: Path, words: list[str]) -> Path:
    """A 2-layer, 32-dim BERT with random weights knowing `words`, saved under `root` as a
    sentence-transformers folder (mean pooling)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    backbone = root / "backbone"
    backbone.mkdir()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocabulary = specials + list(".,!?'") + sorted(set(words))
    # transformers 5 ignores vocab_file here (every word became [UNK]): the mapping itself is given
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocabulary)}, do_lower_case=True)
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
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-dim BERT with random weights, saved as a sentence-transformers folder (mean pooling)."""
    from transformers import BertTokenizerFast

    model_dir = make_tiny_model(tmp_path_factory.mktemp("tiny-bert"), re.findall(r"[a-z]+", VOCAB_TEXT))
    assert BertTokenizerFast.from_pretrained(model_dir).tokenize("a dog") == ["a", "dog"]
    return model_dir


@pytest.fixture(scope="session")
def tiny_reranker_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT as a reranker (a CrossEncoder folder, random one-output head): shapes, not quality."""
    import torch

    from embedlab.models.cross_encoder import load_cross_encoder

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-reranker") / "model"
    load_cross_encoder(tiny_model_dir, max_length=24, start=True, device="cpu").save(str(out))
    return out


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


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory, synthetic_data) -> Path:
    """A 1,000-token BPE tokenizer trained through the CLI on `CORPUS` (its report reads STS-B sentences:
    the synthetic ones, as for every unit test)."""
    from embedlab.cli import app

    corpus = tmp_path_factory.mktemp("corpus") / "sentences.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("tok") / "bpe"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(synthetic_data))
        result = CliRunner().invoke(
            app, ["tokenizer", "train", str(corpus), "--vocab-size", "1000", "--out", str(out)]
        )
    assert result.exit_code == 0, result.output
    assert "corpus 120 texts" in result.output and "tokens per word" in result.output
    return out


@pytest.fixture(scope="session")
def tiny_bert_with_real_vocabulary(tmp_path_factory) -> Path:
    """A 1-layer, 32-wide random BERT with MiniLM's real 30k WordPiece vocabulary: a quick teacher."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import AutoTokenizer, BertConfig, BertModel

    from embedlab.models.registry import resolve

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-real-vocab")
    tokenizer = AutoTokenizer.from_pretrained(resolve("all-MiniLM-L6-v2"))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(root / "backbone")
    tokenizer.save_pretrained(root / "backbone")
    modules = [Transformer(str(root / "backbone"), max_seq_length=64), Pooling(32, pooling_mode="mean")]
    SentenceTransformer(modules=modules, device="cpu").save(str(root / "model"), create_model_card=False)
    return root / "model"


@pytest.fixture(scope="session")
def exported_tiny(tiny_model_dir, tmp_path_factory) -> Path:
    """A copy of the tiny model with its ONNX fp32 and int8 files."""
    from embedlab.runtime.export import export_onnx

    folder = tmp_path_factory.mktemp("export") / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    export_onnx(folder, int8=True)
    return folder


@pytest.fixture(scope="session")
def arxiv_corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("arxiv") / "papers.jsonl.gz")


@pytest.fixture(scope="session")
def arxiv_splits(arxiv_corpus, tmp_path_factory) -> Path:
    from embedlab.data.arxiv import ArxivSettings, prepare_arxiv

    out = tmp_path_factory.mktemp("prepared") / "splits"
    prepare_arxiv(arxiv_corpus, out, ArxivSettings(min_papers=10, eval_fraction=0.2, test_fraction=0.25))
    return out
