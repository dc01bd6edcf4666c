"""Small generated corpora and helpers the tests share: sentences for a tokenizer, an arXiv-like paper dump
(four subjects with their own words, plus the bad records a real dump has), an encoder that knows them."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np

CORPUS = [
    "A man is playing a guitar on the street.",
    "Two dogs are running through a field of flowers.",
    "The stock market fell sharply on Monday morning.",
    "We prove that every planar graph is four-colourable.",
    "Neural networks learn representations of sentences.",
    "Quantum states decohere when they interact with an environment.",
] * 20

SUBJECT_WORDS = {
    "math": ["two", "three", "some", "of", "and", "to", "with", "at", "on", "in"],
    "cs": ["plane", "car", "street", "air", "flying", "riding", "horse", "kite"],
    "q-bio": ["dog", "cat", "child", "kid", "people", "person", "woman", "man"],
    "physics": ["sun", "shining", "sunny", "day", "water", "air", "off", "taking"],
}
CATEGORIES = {
    "math": ["math.PR", "math.CO"],
    "cs": ["cs.LG"],
    "q-bio": ["q-bio.NC"],
    "physics": ["physics.optics"],
}


def _paper(number: int, subject: str, rng: random.Random) -> dict:
    words = SUBJECT_WORDS[subject]
    category = rng.choice(CATEGORIES[subject])
    return {
        "id": f"{2001 + number // 1000}.{number % 1000:05d}",
        "title": " ".join(rng.choices(words, k=5)) + f" {number}",
        "abstract": "  ".join(rng.choices(words, k=30)) + f"\n number {number}",
        "categories": [category],
        "primary_category": category,
        "primary_subject": subject,
        "year": 2001,
    }


def write_corpus(path: Path, per_subject: int = 40) -> Path:
    rng = random.Random(0)
    lines = []
    number = 0
    for subject in SUBJECT_WORDS:
        for _ in range(per_subject):
            lines.append(json.dumps(_paper(number, subject, rng)))
            number += 1
    for _ in range(5):  # a subject too small to keep
        lines.append(json.dumps({**_paper(number, "math", rng), "primary_subject": "econ"}))
        number += 1
    lines.append("{not json")
    lines.append(json.dumps({**_paper(number, "cs", rng), "abstract": None}))
    lines.append(json.dumps({**_paper(number + 1, "cs", rng), "title": "   "}))
    lines.append(lines[0])  # a duplicate
    rng.shuffle(lines)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


class WordCountEncoder:
    """Bag-of-subject-words vectors: papers of a subject are near each other."""

    dim = len(SUBJECT_WORDS)
    max_seq_length = 128

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        return np.array(
            [
                [sum(t.split().count(w) for w in words) + 0.1 for words in SUBJECT_WORDS.values()]
                for t in texts
            ],
            dtype=np.float32,
        )


def gram(vectors: np.ndarray) -> np.ndarray:
    return vectors @ vectors.T


SUBJECTS = ["a man", "a woman", "two dogs", "the child", "a cat", "some people", "the girl", "a boy"]
ACTIONS = ["is playing a guitar", "is riding a horse", "runs", "is eating food", "sits on the mat"]
PLACES = ["on the street", "in the water", "at the park", "on a sunny day", "with a kite"]


def _parts(rng: random.Random) -> tuple[str, str, str]:
    return rng.choice(SUBJECTS), rng.choice(ACTIONS), rng.choice(PLACES)


def _sentence(parts: tuple[str, str, str]) -> str:
    return " ".join(parts).capitalize() + "."


def _scored_pairs(rng: random.Random, count: int, low: float, high: float) -> list[tuple[str, str, float]]:
    """Pairs scored by how many of their three parts (who, does what, where) they share: learnable."""
    pairs = []
    for _ in range(count):
        a, b = _parts(rng), _parts(rng)
        shared = sum(x == y for x, y in zip(a, b, strict=True)) / 3
        pairs.append((_sentence(a), _sentence(b), round(low + (high - low) * shared, 2)))
    return pairs


def write_data_folder(root: Path, seed: int = 0) -> Path:
    """A small synthetic data folder in the layout and formats of `../shared/data` (STS-B, SICK-R, STS12–16,
    NLI): the unit tests read it instead of the real benchmarks, so they need no downloaded data."""
    rng = random.Random(seed)
    stsb = root / "stsb"
    stsb.mkdir(parents=True)
    for split, count in (("train", 120), ("dev", 40), ("test", 40)):
        rows = [
            f"main-captions\tMSRvid\t2012test\t{i:04d}\t{score}\t{a}\t{b}"
            for i, (a, b, score) in enumerate(_scored_pairs(rng, count, 0.0, 5.0))
        ]
        (stsb / f"sts-{split}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    sick = root / "sickr"
    sick.mkdir()
    header = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"
    for name, count in (("SICK.txt", 60), ("SICK_train.txt", 40), ("SICK_trial.txt", 10)):
        rows = [f"{i}\t{a}\t{b}\t{s}\tNEUTRAL" for i, (a, b, s) in enumerate(_scored_pairs(rng, count, 1, 5))]
        (sick / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    (sick / "SICK_test_annotated.txt").write_text((sick / "SICK.txt").read_text(), encoding="utf-8")
    for year in (12, 13, 14, 15, 16):
        folder = root / f"sts{year}"
        folder.mkdir()
        prefix = "STS2016" if year == 16 else "STS"
        pairs = _scored_pairs(rng, 30, 0.0, 5.0)
        (folder / f"{prefix}.input.news.txt").write_text("".join(f"{a}\t{b}\n" for a, b, _ in pairs))
        (folder / f"{prefix}.gs.news.txt").write_text("".join(f"{s}\n" for _, _, s in pairs))
    nli = root / "nli"
    nli.mkdir()
    for name in ("snli_dev", "snli_train_sample", "mnli_train_sample"):
        rows = []
        for i in range(300):
            if i % 3 == 0:  # each premise has an entailed, a neutral and a contradicting hypothesis
                premise = _sentence(_parts(rng))
                if i % 10:  # most premises are new; some may be an evaluation sentence (to be held out)
                    premise = premise.replace(".", f" near house {i}.")
            label = ("entailment", "neutral", "contradiction")[i % 3]
            hypothesis = premise.replace(".", " today.") if label == "entailment" else _sentence(_parts(rng))
            rows.append(json.dumps({"premise": premise, "hypothesis": hypothesis, "label": label}))
        with gzip.open(nli / f"{name}.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.write("\n".join(rows) + "\n")
    return root


class BagOfWordsEncoder:
    """Counts of words longer than three letters, hashed into 256 dimensions: texts sharing most words are
    close, others far apart.
    A stand-in encoder whose right answers are known (no model needed)."""

    dim = 256
    max_seq_length = 512
    identity = {"name": "bag-of-words", "path": "bag-of-words", "precision": "fp32"}  # noqa: RUF012

    def encode_counted(self, texts, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        return self.encode(texts, batch_size), np.array([len(t.split()) for t in texts])

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        import re

        return [match.span() for match in re.finditer(r"\S+", text)]  # a word is a token

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        import zlib

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", " ").split():
                if len(word) <= 3:  # short function words ("the", "and") would make everything similar
                    continue
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        return out


TOPIC_WORDS = {
    "space": [
        "rocket",
        "orbit",
        "planet",
        "telescope",
        "galaxy",
        "astronaut",
        "satellite",
        "comet",
        "moon",
        "star",
        "launch",
        "probe",
    ],
    "cooking": [
        "onion",
        "butter",
        "oven",
        "bread",
        "flour",
        "sugar",
        "sauce",
        "simmer",
        "bake",
        "whisk",
        "pepper",
        "garlic",
    ],
    "sport": [
        "goal",
        "match",
        "striker",
        "tennis",
        "marathon",
        "referee",
        "stadium",
        "coach",
        "league",
        "score",
        "team",
        "ball",
    ],
}


def topic_texts(per_topic: int = 20, seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts of three planted topics (eight words of the topic's own vocabulary each) and their topics."""
    rng = random.Random(seed)
    texts, topics = [], []
    for topic, words in TOPIC_WORDS.items():
        for _ in range(per_topic):
            texts.append(" ".join(rng.sample(words, 8)))
            topics.append(topic)
    return texts, topics


def planted_duplicates(seed: int = 0) -> tuple[list[str], dict[int, int]]:
    """Distinct texts plus planted copies: exact ones (case and spacing changed) and paraphrases (one word
    dropped). Returns the texts and {copy row: original row}."""
    rng = random.Random(seed)
    vocabulary = [w for words in TOPIC_WORDS.values() for w in words] + [f"word{i}" for i in range(200)]
    texts = [" ".join(rng.sample(vocabulary, 12)) for _ in range(60)]
    copies: dict[int, int] = {}
    for original in rng.sample(range(60), 10):
        copies[len(texts)] = original
        texts.append("  " + texts[original].upper() + " ")
    for original in rng.sample(range(60), 10):
        words = texts[original].split()
        del words[rng.randrange(len(words))]
        copies[len(texts)] = original
        texts.append(" ".join(words))
    return texts, copies
