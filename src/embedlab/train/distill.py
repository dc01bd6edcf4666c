"""Distillation data: the teacher's embeddings of unlabelled sentences, as the MSE targets of a student.

The teacher's embeddings are cached in EMBEDLAB_CACHE_DIR/teacher/ (keyed on the teacher and the sentences),
so a resumed run, or a new run over the same sentences with other training settings, does not pay for them
again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from datasets import Dataset

from embedlab.config import DistillConfig
from embedlab.data.sentences import collect_sentences


def teacher_embeddings(config: DistillConfig, sentences: list[str], cache: Path) -> np.ndarray:
    """The teacher's embedding of each text, cached on (teacher, texts)."""
    from embedlab.models.registry import load_model

    key = hashlib.sha256(json.dumps([config.teacher, sentences]).encode()).hexdigest()[:16]
    path = cache / f"teacher-{key}.npy"
    if path.is_file():
        return np.load(path)
    teacher = load_model(config.teacher)
    vectors = teacher.encode(
        sentences, batch_size=config.teacher_batch_size, convert_to_numpy=True, show_progress_bar=True
    ).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".teacher-{key}.tmp.npy"
    np.save(staging, vectors)
    staging.replace(path)
    return vectors


def teacher_token_vectors(config: DistillConfig, tokenizer_dir: str | Path) -> np.ndarray:
    """The teacher's embedding of every token of the student's vocabulary, read as text ("Ġgraph" is
    " graph"): the vocabulary distillation model2vec does for the teacher's own tokenizer, done for the
    student's, to start its token embeddings (`distill.init_embeddings`)."""
    from transformers import AutoTokenizer

    from embedlab.paths import cache_dir

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    texts = [tokenizer.decode([token_id]) or " " for token_id in range(len(tokenizer))]
    return teacher_embeddings(config, texts, cache_dir() / "teacher")


def distillation_dataset(config: DistillConfig, seed: int = 42) -> tuple[Dataset, int]:
    """(sentence, label = teacher embedding) rows for MSELoss, and the teacher's dimension."""
    from embedlab.paths import cache_dir

    sentences, _ = collect_sentences(config.sentences, limit=config.max_sentences, seed=seed)
    vectors = teacher_embeddings(config, sentences, cache_dir() / "teacher")
    return Dataset.from_dict({"sentence": sentences, "label": vectors.tolist()}), int(vectors.shape[1])
