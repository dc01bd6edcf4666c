"""Static (model2vec) models load in sentence-transformers and model2vec."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app


@pytest.mark.integration  # the teacher uses the packaged MiniLM tokenizer
def test_static_model_loads_in_sentence_transformers_and_model2vec(tiny_bert_with_real_vocabulary, tmp_path):
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

    teacher = str(tiny_bert_with_real_vocabulary)
    out = tmp_path / "static"
    result = CliRunner().invoke(app, ["distill", "static", teacher, "--out", str(out), "--pca-dims", "16"])
    assert result.exit_code == 0, result.output
    texts = ["a man is playing a guitar", "the stock market fell today"]
    by_st = SentenceTransformer(str(out)).encode(texts)
    by_m2v = StaticModel.from_pretrained(str(out)).encode(texts)
    assert by_st.shape == (2, 16) and not np.allclose(by_st[0], by_st[1])
    assert np.allclose(by_st, by_m2v, atol=1e-3)
    assert "STS" in (out / "README.md").read_text() and "model2vec" in (out / "README.md").read_text()
    again = CliRunner().invoke(app, ["distill", "static", teacher, "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
