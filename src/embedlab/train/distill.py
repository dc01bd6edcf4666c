"""Distillation data: the teacher's embeddings of unlabelled sentences, as the MSE targets of a student.

The teacher's embeddings are cached per text in EMBEDLAB_CACHE_DIR/teacher/TEACHER-KEY/, so a resumed run, a
run with other training settings, another seed's sample of the same sources, or a run with more sentences
encodes only the texts the teacher has not seen before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from datasets import Dataset

from embedlab.config import DistillConfig
from embedlab.data.sentences import collect_sentences
from embedlab.io import atomic_path

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

ALIGNMENT_SENTENCES = 20_000


def teacher_embeddings(config: DistillConfig, sentences: list[str], cache: Path) -> np.ndarray:
    """The teacher's embedding of each text: texts cached before (by any run, in any order) are read back,
    only the new ones are encoded, and they are added to the cache as one more chunk.

    Example::

        config = DistillConfig(teacher="all-MiniLM-L6-v2")
        vectors = teacher_embeddings(config, ["a dog", "a cat"], cache_dir() / "teacher")
    """
    store = cache / hashlib.sha256(config.teacher.encode()).hexdigest()[:16]
    keys = _text_keys(sentences)
    listed = keys.tolist()
    known = _cached_vectors(store, set(listed))
    if len(known) < len(set(listed)):
        _fold_in_list_cache(cache / _list_cache_name(config, sentences), store, keys, known)
    missing = list(
        {key: text for key, text in zip(listed, sentences, strict=True) if key not in known}.items()
    )
    if missing:
        from embedlab.models.registry import load_model

        teacher = load_model(config.teacher)
        vectors = teacher.encode(
            [text for _, text in missing],
            batch_size=config.teacher_batch_size,
            convert_to_numpy=True,
            show_progress_bar=True,
        ).astype(np.float32)
        new_keys = np.array([key for key, _ in missing], dtype="S16")
        _write_chunk(store, new_keys, vectors)
        known.update(zip(new_keys.tolist(), vectors, strict=True))
    return np.stack([known[key] for key in listed])


def _text_keys(texts: list[str]) -> np.ndarray:
    return np.array([hashlib.blake2b(text.encode(), digest_size=16).digest() for text in texts], dtype="S16")


def _cached_vectors(store: Path, wanted: set[bytes]) -> dict[bytes, np.ndarray]:
    """The cached vectors of the wanted keys, from every chunk of the store (written whole, so readable)."""
    found: dict[bytes, np.ndarray] = {}
    for chunk in sorted(store.glob("chunk-*.npz")):
        with np.load(chunk) as data:
            vectors = data["vectors"]
            for row, key in enumerate(data["keys"].tolist()):
                if key in wanted:
                    found[key] = vectors[row]
    return found


def _write_chunk(store: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
    # named after its content: two processes caching the same texts write the same file, harmlessly
    name = hashlib.sha256(keys.tobytes()).hexdigest()[:16]
    with atomic_path(store / f"chunk-{name}.npz") as staging, staging.open("wb") as handle:
        np.savez(handle, keys=keys, vectors=vectors)


def _list_cache_name(config: DistillConfig, sentences: list[str]) -> str:
    return f"teacher-{hashlib.sha256(json.dumps([config.teacher, sentences]).encode()).hexdigest()[:16]}.npy"


def _fold_in_list_cache(old: Path, store: Path, keys: np.ndarray, known: dict[bytes, np.ndarray]) -> None:
    """A cache file of embedlab before the per-text cache (one file per teacher and sentence list): its
    vectors join the per-text store, so an upgrade does not pay for the teacher pass again.
    """
    if not old.is_file():
        return
    vectors = np.load(old)
    rows = sorted(
        dict(zip(keys.tolist(), range(len(keys)), strict=True)).values()
    )  # one row per distinct text
    _write_chunk(store, keys[rows], vectors[rows])
    known.update(zip(keys[rows].tolist(), vectors[rows], strict=True))


def teacher_token_vectors(config: DistillConfig, tokenizer_dir: str | Path) -> np.ndarray:
    """The teacher's embedding of every token of the student's vocabulary, read as text ("Ġgraph" is
    " graph"): the vocabulary distillation model2vec does for the teacher's own tokenizer, done for the
    student's, to start its token embeddings (`distill.init_embeddings`).
    """
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


def with_aligned_projection(
    model: SentenceTransformer, sentences: list[str], targets: np.ndarray
) -> SentenceTransformer:
    """The student with its linear projection to the teacher's space set to the least-squares map from its
    own output to `targets` (the teacher's embeddings of `sentences`; ALIGNMENT_SENTENCES are plenty).

    A scratch encoder's projection (its last module) is replaced; a static model gets one before its
    Normalize (`embedlab.models.static.fold_projection` folds it into the table after training).
    Why: a student's space is not the teacher's. A warm-started encoder's pooled vectors, or a model2vec
    table (a PCA basis of the teacher's *token* outputs), carry the teacher's knowledge in another basis;
    against a random projection, MSE training first scrambles them (here: STS-B dev 59 → 22 in 375 steps
    for the warm-started encoder, 7-task average 67.6 → 49.1 for the static model). Solved in closed form,
    the map starts right and training only has to learn what a linear map cannot.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    from embedlab.models.static import is_static

    modules = list(model)
    if is_static(model):
        modules[0].float()  # model2vec saves float16 tables; training needs float32
        body, rest = modules[:1], modules[1:]
    else:
        if not isinstance(modules[-1], Dense):
            raise ValueError("the student has no projection to align")
        body, rest = modules[:-1], []
    features = SentenceTransformer(modules=body, device="cpu").encode(
        list(sentences), batch_size=64, convert_to_numpy=True, show_progress_bar=True
    )
    weight, bias = ridge_map(features.astype(np.float64), targets.astype(np.float64))
    projection = Dense(
        features.shape[1], targets.shape[1], bias=True, activation_function=torch.nn.Identity()
    )
    with torch.no_grad():
        projection.linear.weight.copy_(torch.from_numpy(weight.T.copy()))
        projection.linear.bias.copy_(torch.from_numpy(bias))
    return SentenceTransformer(modules=[*body, projection, *rest], device="cpu")


def ridge_map(
    features: np.ndarray, targets: np.ndarray, strength: float = 1e-2
) -> tuple[np.ndarray, np.ndarray]:
    """Least squares `features @ weight + bias ≈ targets`, ridge-regularised at `strength` × the mean
    feature variance. Plain least squares is not enough: a warm-started encoder's pooled vectors span only
    the teacher's 384 of its 480 dimensions (the rest is position-embedding noise), and the exact solution
    puts huge weights on those noise directions — gradients through them blew training up (loss 838 at
    step 50). The ridge term leaves them near zero.
    """
    mean_in, mean_out = features.mean(axis=0), targets.mean(axis=0)
    centred = features - mean_in
    gram = centred.T @ centred
    ridge = strength * np.trace(gram) / len(gram)
    weight = np.linalg.solve(gram + ridge * np.eye(len(gram)), centred.T @ (targets - mean_out))
    return weight, mean_out - mean_in @ weight


def distill_static_model(
    teacher: str, out: Path, *, pca_dims: int = 256, force: bool = False, evaluate: bool = True
):
    """A static (lookup-table) model distilled from `teacher` with model2vec into `out`, evaluated on the
    7-task STS suite and given a model card. Returns the distillation result and the STS records.

    Example::

        result, records = distill_static_model("all-MiniLM-L6-v2", Path("runs/static-minilm"))
    """
    import model2vec
    import yaml

    from embedlab.evaluate.report import model_card
    from embedlab.evaluate.sts import evaluate_sts
    from embedlab.hardware import machine_summary
    from embedlab.io import write_text_atomic
    from embedlab.models import load_model
    from embedlab.models.static import distill_static

    result = distill_static(teacher, out, pca_dims=pca_dims, force=force)
    records = evaluate_sts(load_model(str(out)), batch_size=256) if evaluate else []
    settings = {
        "teacher": teacher,
        "pca_dims": pca_dims,
        "method": "model2vec distill",
        "model2vec": model2vec.__version__,
    }
    card = model_card(
        name=out.name,
        base_model=teacher,
        after=records,
        before=None,
        config_yaml=yaml.safe_dump(settings, sort_keys=False),
        training_summary={
            "method": f"model2vec distillation of `{teacher}`'s vocabulary (no corpus)",
            "vocabulary": f"{result.vocabulary:,} tokens",
            "dimensions": result.dim,
            "distillation time": f"{result.seconds:.0f} s",
            "machine": machine_summary(),
        },
        description=f"A static-embedding model (a lookup table, no transformer) distilled from `{teacher}` "
        "with model2vec. Loads with `SentenceTransformer(path)` and "
        "`model2vec.StaticModel.from_pretrained(path)`.",
    )
    write_text_atomic(out / "README.md", card)
    return result, records
