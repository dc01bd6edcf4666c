"""arXiv training pairs: inside their split, of their kind, balanced, with hard negatives."""

from __future__ import annotations

from embedlab.data.arxiv import load_split
from embedlab.data.pairs import contrastive_dataset, labelled_dataset, mine_hard_negatives, positive_pairs
from tests.corpora import WordCountEncoder


def test_pairs_stay_inside_their_split_and_follow_their_kind(arxiv_splits):
    train = load_split(arxiv_splits, "train")
    pairs = positive_pairs(train, 60, ["same-label", "title-abstract"], seed=1)
    assert len(pairs) == 60
    same_paper = [(a, p) for a, p in pairs if a == p]
    assert len(same_paper) == 30  # the title-abstract half
    assert all(train[a]["label"] == train[p]["label"] for a, p in pairs)
    dataset = contrastive_dataset(train, pairs, anchor_field="title", positive_field="abstract")
    train_titles = {p["title"] for p in train}
    train_abstracts = {p["abstract"] for p in train}
    assert set(dataset["anchor"]) <= train_titles and set(dataset["positive"]) <= train_abstracts
    other_splits = {p["abstract"] for s in ("eval", "test") for p in load_split(arxiv_splits, s)}
    assert not set(dataset["positive"]) & other_splits

    labelled = labelled_dataset(train, 40, anchor_field="title", positive_field="abstract", seed=3)
    by_title = {p["title"]: p["label"] for p in train}
    by_abstract = {p["abstract"]: p["label"] for p in train}
    assert sorted(set(labelled["score"])) == [0.0, 1.0] and sum(labelled["score"]) == 20
    for row in labelled:
        same = by_title[row["sentence1"]] == by_abstract[row["sentence2"]]
        assert same == (row["score"] == 1.0)


def test_hard_negatives_are_near_but_of_another_label(arxiv_splits):
    train = load_split(arxiv_splits, "train")
    pairs = positive_pairs(train, 20, ["title-abstract"], seed=2)
    negatives = mine_hard_negatives(train, pairs, WordCountEncoder(), pool=1000)
    assert len(negatives) == 20
    assert all(train[n]["label"] != train[a]["label"] for (a, _), n in zip(pairs, negatives, strict=True))


def test_balanced_pairs_draw_every_label_equally_often():
    papers = [{"label": "big", "title": f"b{i}", "abstract": f"B{i}"} for i in range(90)]
    papers += [{"label": "small", "title": f"s{i}", "abstract": f"S{i}"} for i in range(10)]
    plain = positive_pairs(papers, 200, ["same-label"], seed=0)
    balanced = positive_pairs(papers, 200, ["same-label"], balance=True, seed=0)
    assert sum(papers[a]["label"] == "small" for a, _ in plain) < 40  # about 10 %
    assert sum(papers[a]["label"] == "small" for a, _ in balanced) == 100
    assert all(papers[a]["label"] == papers[p]["label"] and a != p for a, p in balanced)


def test_same_category_pairs_share_the_finer_category_and_fall_back_to_the_label():
    papers = [
        {"label": "math", "primary_category": cat, "title": f"{cat}{i}", "abstract": f"A{cat}{i}"}
        for cat, size in (("math.PR", 30), ("math.AG", 30), ("math.CO", 1))
        for i in range(size)
    ]
    papers += [
        {"label": "cs", "primary_category": "cs.LG", "title": f"lg{i}", "abstract": f"L{i}"}
        for i in range(40)
    ]
    pairs = positive_pairs(papers, 400, ["same-category", "title-abstract"], balance=True, seed=5)
    crossed = [(a, p) for a, p in pairs if a != p]
    assert len(crossed) == 200 and all(papers[a]["label"] == papers[p]["label"] for a, p in crossed)
    lonely = [(a, p) for a, p in crossed if papers[a]["primary_category"] == "math.CO"]
    category = [(a, p) for a, p in crossed if (a, p) not in lonely]
    assert all(papers[a]["primary_category"] == papers[p]["primary_category"] for a, p in category)
    # the one math.CO paper has no category partner: its positive is another paper of its subject
    assert lonely and all(papers[p]["label"] == "math" for _, p in lonely)
    same_label = positive_pairs(papers, 400, ["same-label"], balance=True, seed=5)
    across = sum(papers[a]["primary_category"] != papers[p]["primary_category"] for a, p in same_label)
    assert across > 50  # subject-level positives cross categories; category-level ones never do
