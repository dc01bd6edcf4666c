"""A BPE tokenizer and a RoBERTa-style encoder from scratch: shapes, round trips, warm starts."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import ConfigError
from embedlab.models.scratch import build_scratch_model, dividing_heads, fit_width, parameter_count
from tests.corpora import CORPUS, gram


def test_tokenizer_round_trips_text_and_loads_with_auto_tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert 261 < len(tokenizer) <= 1000  # 256 bytes + 5 special tokens, then merges
    for text in [*CORPUS[:6], "Unseen words: zebra, ünïcödé and 3.14159!"]:
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == tokenizer.convert_tokens_to_ids("<s>") and ids[
            -1
        ] == tokenizer.convert_tokens_to_ids("</s>")
        assert tokenizer.decode(ids, skip_special_tokens=True) == text  # byte-level: nothing is lost
    # a frequent word (after a space, as inside a sentence) became one token
    assert len(tokenizer(" guitar", add_special_tokens=False)["input_ids"]) == 1


def expected_parameters(vocab: int, hidden: int, layers: int, intermediate: int, positions: int) -> int:
    embeddings = (vocab + positions + 1) * hidden + 2 * hidden
    layer = (
        4 * (hidden * hidden + hidden)
        + 2 * hidden
        + 2 * hidden * intermediate
        + intermediate
        + hidden
        + 2 * hidden
    )
    pooler = hidden * hidden + hidden
    return embeddings + layers * layer + pooler


def test_scratch_model_has_the_requested_shape_and_parameter_count(tokenizer_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    model = build_scratch_model(tokenizer_dir, layers=3, hidden=60, heads=8, max_length=32)
    config = model[0].auto_model.config
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == (3, 60, 240)
    assert config.num_attention_heads == dividing_heads(60, 8) == 6
    vocab = len(AutoTokenizer.from_pretrained(str(tokenizer_dir)))
    assert parameter_count(model) == expected_parameters(vocab, 60, 3, 240, 34)
    assert model.max_seq_length == 32
    model.save(str(tmp_path / "m"))
    loaded = SentenceTransformer(str(tmp_path / "m"))
    text = ["A man is playing a guitar."]
    assert np.allclose(loaded.encode(text), model.encode(text), atol=1e-5)
    projected = build_scratch_model(tokenizer_dir, layers=1, hidden=24, heads=4, projection_dim=16)
    assert projected.encode(text).shape == (1, 16)
    with pytest.raises(ConfigError, match="embedlab tokenizer train"):
        build_scratch_model(tmp_path / "nothing")


def test_fit_width_keeps_geometry_when_widening_and_takes_principal_axes_when_narrowing():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((40, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1]) + 7.0
    centred = vectors - vectors.mean(axis=0)
    widened = fit_width(vectors, 10)
    assert widened.shape == (40, 10) and np.allclose(gram(widened), gram(centred))
    narrowed = fit_width(vectors, 2)
    assert narrowed.shape == (40, 2)
    kept = np.var(narrowed, axis=0).sum() / np.var(centred, axis=0).sum()
    assert kept > 0.95  # the two widest axes hold 34 of 35.3 units of variance


def test_warm_started_encoder_begins_as_a_bag_of_its_token_vectors(tokenizer_dir):
    import torch
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(str(tokenizer_dir)))
    vectors = np.random.default_rng(1).standard_normal((vocab, 12))
    model = build_scratch_model(tokenizer_dir, layers=2, hidden=24, heads=4, token_vectors=vectors)
    backbone = model[0].auto_model.eval()
    table = backbone.embeddings.word_embeddings.weight.detach().numpy().astype(np.float64)
    rows = [5, 40, 90, 200]  # token rows (not padding): their geometry is the vectors', scaled
    expected = gram(vectors[rows] - vectors.mean(axis=0))
    assert np.corrcoef(gram(table[rows]).ravel(), expected.ravel())[0, 1] > 0.999
    text = "A man is playing a guitar on the street."
    features = model.tokenize([text])
    with torch.no_grad():
        token_states = backbone.embeddings(input_ids=features["input_ids"])
    # every layer is the identity, so the sentence embedding is the mean of the embedding layer's output
    assert np.allclose(model.encode([text])[0], token_states[0].mean(dim=0).numpy(), atol=1e-5)
    random_start = build_scratch_model(tokenizer_dir, layers=2, hidden=24, heads=4)
    assert not np.allclose(random_start.encode([text])[0], model.encode([text])[0], atol=1e-3)
    with pytest.raises(ConfigError, match="rows"):
        build_scratch_model(tokenizer_dir, layers=1, hidden=24, heads=4, token_vectors=vectors[:10])
