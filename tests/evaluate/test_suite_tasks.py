"""The other MTEB task types: MRPC pair classification, arXiv clustering, and the `suite` overview."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.errors import DataError, EmbedlabError
from embedlab.evaluate.clustering import v_measures
from embedlab.evaluate.overview import overview_rows
from embedlab.evaluate.pair_classification import pair_classification_records
from embedlab.evaluate.records import EvalRecord
from embedlab.evaluate.suite import split_tasks
from tests.corpora import BagOfWordsEncoder, topic_texts

HEADER = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
PAIRS = [
    (1, "a man plays the guitar .", "a man is playing a guitar ."),
    (0, "a woman slices an onion .", "the stock market fell today ."),
    (1, "a dog runs in the park .", "a dog is running in a park ."),
    (0, "a man plays the guitar .", "a cat sits on the mat ."),  # a sentence seen before: encoded once
    (1, 'the "plane" is taking off .', "a plane is taking off ."),  # a quote is text, not CSV quoting
    (0, "two men are fighting .", "a girl is flying a kite ."),
]


def write_mrpc(root, rows=PAIRS, split="test"):
    folder = root / "mrpc"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{label}\t{i}\t{i + 100}\t{a}\t{b}\n" for i, (label, a, b) in enumerate(rows)]
    name = {"test": "msr_paraphrase_test.txt", "train": "msr_paraphrase_train.txt"}[split]
    (folder / name).write_text(HEADER + "".join(lines), encoding="utf-8")
    return folder / name


def test_load_mrpc_reads_senteval_files(tmp_path):
    from embedlab.data.paraphrase import load_mrpc

    write_mrpc(tmp_path)
    pairs = load_mrpc("test", tmp_path)
    assert pairs["label"] == [label for label, _, _ in PAIRS]
    assert pairs["sentence1"][4] == 'the "plane" is taking off .'
    assert pairs["sentence2"][0] == "a man is playing a guitar ."


def test_a_bad_mrpc_row_names_file_and_line(tmp_path):
    from embedlab.data.paraphrase import load_mrpc

    path = write_mrpc(tmp_path)
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text[3] = "yes\t1\t2\tone sentence\tanother\n"  # a label that is not 0/1
    path.write_text("".join(text), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_mrpc("test", tmp_path)
    assert str(path) in str(caught.value) and "4" in str(caught.value)
    with pytest.raises(DataError, match="splits train, test"):
        load_mrpc("dev", tmp_path)


def test_pair_classification_figures_match_a_hand_computed_example():
    # ranking by score: + - + -  →  AP = (1/1 + 2/3) / 2; best accuracy 3/4; best F1 at 0.3: P 2/3, R 1 → 0.8
    records = pair_classification_records("mrpc", "test", np.array([0.9, 0.8, 0.3, 0.1]), [1, 0, 1, 0])
    values = {r.metric: r.value for r in records}
    assert values["cosine_ap"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert values["cosine_accuracy"] == pytest.approx(75.0)
    assert values["cosine_f1"] == pytest.approx(80.0)
    assert {r.n for r in records} == {4}


def test_pair_classification_scores_the_models_own_cosines(tmp_path, monkeypatch, tiny_model):
    from sklearn.metrics import average_precision_score

    from embedlab.evaluate.pair_classification import evaluate_pair_classification

    write_mrpc(tmp_path)
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))
    records = evaluate_pair_classification(tiny_model, show_progress=False)
    left = tiny_model.encode([a for _, a, _ in PAIRS], normalize_embeddings=True)
    right = tiny_model.encode([b for _, _, b in PAIRS], normalize_embeddings=True)
    expected = average_precision_score([label for label, _, _ in PAIRS], (left * right).sum(axis=1))
    assert records[0].metric == "cosine_ap"
    assert records[0].value == pytest.approx(100 * expected, abs=1e-4)


def test_clustering_finds_planted_topics_and_not_noise():
    texts, topics = topic_texts(per_topic=30)
    planted = v_measures(BagOfWordsEncoder().encode(texts), topics)
    noise = v_measures(np.random.default_rng(0).normal(size=(len(texts), 32)), topics)
    assert len(planted) == 5
    assert min(planted) > 80 > 20 > max(noise)


def test_clustering_on_arxiv_titles(tiny_model, arxiv_splits):
    from embedlab.data.arxiv import load_split
    from embedlab.evaluate.clustering import evaluate_clustering

    mean, spread = evaluate_clustering(tiny_model, arxiv_dir=arxiv_splits, show_progress=False)
    assert (mean.metric, spread.metric) == ("v_measure", "v_measure_sd")
    assert mean.n == len(load_split(arxiv_splits, "test"))
    assert 0 <= mean.value <= 100 and spread.value >= 0


def test_suite_asks_for_one_task_of_each_type():
    selection = split_tasks("suite")
    assert selection.overview and selection.pair_classification and selection.clustering
    assert selection.sts == ["sts"] and selection.arxiv == ("arxiv-classification",)
    plain = split_tasks("stsb,mrpc")
    assert plain.sts == ["stsb"] and plain.pair_classification and not plain.overview
    assert not plain.clustering and plain.retrieval == []


def test_baselines_refuse_tasks_they_cannot_score():
    from embedlab.evaluate.suite import evaluate_suite

    for model, tasks in (("bm25", "suite"), ("bm25", "mrpc"), ("tfidf", "arxiv-clustering")):
        with pytest.raises(EmbedlabError):
            evaluate_suite(model, tasks)


def test_overview_rows_show_the_figures_and_dashes_where_missing():
    records = [
        EvalRecord("average", "test", "spearman_cosine", 78.94, 7),
        EvalRecord("arxiv-clustering", "test", "v_measure", 41.234, 100),
        EvalRecord("arxiv-clustering", "test", "v_measure_sd", 0.5, 100),
    ]
    baselines = [EvalRecord("arxiv-classification", "test", "macro_f1", 60.0, 100)]
    rows = overview_rows(records, baselines)
    assert [row[0] for row in rows] == [
        "STS", "retrieval", "pair classification", "clustering", "classification"
    ]  # fmt: skip
    assert rows[0][3] == "78.94" and rows[3][3] == "41.23 ± 0.50"
    assert rows[2][3] == "–" and rows[4][4] == "TF-IDF 60.00"


def test_eval_suite_command_prints_the_overview(
    tmp_path, monkeypatch, synthetic_data, tiny_model_dir, arxiv_splits
):
    import shutil

    from embedlab.cli import app

    data = shutil.copytree(synthetic_data, tmp_path / "data")
    write_mrpc(data)
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(data))
    out = tmp_path / "suite"
    args = [
        "eval",
        str(tiny_model_dir),
        "--tasks",
        "suite",
        "--arxiv-dir",
        str(arxiv_splits),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "one figure per task type" in result.output and "BM25" in result.output
    (records,) = out.glob("*.json")  # one file, named by the model's path
    written = json.loads(records.read_text())
    tasks = {r["task"] for r in written["records"]}
    assert {"average", "mrpc", "arxiv-clustering", "arxiv-classification"} <= tasks
    assert "retrieval:arxiv-title-category" in tasks
    assert {r["task"] for r in written["baselines"]} == {
        "retrieval:arxiv-title-category",
        "arxiv-classification",
    }


def write_nano(root, title, corpus):
    from embedlab.data.beir import RetrievalTask, write_beir

    queries = {"q1": "guitar music", "q2": "stock market"}
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    write_beir(root / "nanobeir" / title, RetrievalTask(title, "test", queries, corpus, qrels))


def test_nanobeir_reads_local_folders_and_reports_the_mean(tmp_path, monkeypatch, tiny_model_dir):
    from embedlab.evaluate.records import lookup
    from embedlab.evaluate.suite import evaluate_suite

    write_nano(tmp_path, "NanoSciFact", {"d1": "a man plays guitar music", "d2": "the stock market fell"})
    write_nano(tmp_path, "NanoNFCorpus", {"d1": "guitar music", "d2": "stock market", "d3": "a cat"})
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))
    records = evaluate_suite(str(tiny_model_dir), "nanobeir:scifact+nfcorpus").retrieval
    one = lookup(records, "retrieval:NanoSciFact", "ndcg@10")
    two = lookup(records, "retrieval:NanoNFCorpus", "ndcg@10")
    assert one is not None and two is not None
    assert lookup(records, "retrieval:NanoBEIR_mean", "ndcg@10") == pytest.approx((one + two) / 2)


def test_nanobeir_names_and_the_hub_path(tmp_path, monkeypatch):
    from embedlab.data.nanobeir import load_nanobeir, nanobeir_names

    assert len(nanobeir_names("nanobeir")) == 13
    assert nanobeir_names("nanobeir:SciFact+fiqa2018") == ["scifact", "fiqa2018"]
    with pytest.raises(EmbedlabError, match="'scifacts' is not a NanoBEIR task"):
        split_tasks("stsb,nanobeir:scifacts")
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))  # no local copy: the hub, which is offline here

    def offline(*args, **kwargs):  # what `datasets` raises here after its retries (23 s of them)
        raise ConnectionError("Couldn't reach 'sentence-transformers/NanoBEIR-en' on the Hub")

    monkeypatch.setattr("datasets.load_dataset", offline)
    with pytest.raises(DataError, match=r"nanobeir/NanoSciFact/.*sentence-transformers/NanoBEIR-en"):
        load_nanobeir("scifact")


def test_mteb_tasks_read_local_folders_and_mtebs_own_split_data(tmp_path, monkeypatch, tiny_model_dir):
    pytest.importorskip("mteb")
    from datasets import Dataset

    from embedlab.data.beir import RetrievalTask, load_beir, write_beir
    from embedlab.data.mteb_tasks import from_split_data, load_mteb_task
    from embedlab.evaluate.records import lookup
    from embedlab.evaluate.suite import evaluate_suite

    corpus = {"d1": "a man plays guitar music", "d2": "the stock market fell", "d3": "a cat sleeps"}
    queries = {"q1": "guitar music", "q2": "stock market"}
    qrels = {"q1": {"d1": 2, "d3": 0}, "q2": {"d2": 1}}
    write_beir(tmp_path / "mteb" / "SciFact", RetrievalTask("SciFact", "test", queries, corpus, qrels))
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))
    local = load_mteb_task("SciFact")
    assert (local.name, local.split, local.qrels) == ("SciFact", "test", qrels)
    records = evaluate_suite(str(tiny_model_dir), "mteb:SciFact").retrieval
    assert lookup(records, "retrieval:SciFact", "ndcg@10") is not None
    # the hub path converts what mteb's loader returns: the same task as the BEIR folder gives
    mteb_split = {
        "corpus": Dataset.from_list([{"id": k, "title": "", "text": v} for k, v in corpus.items()]),
        "queries": Dataset.from_list(
            [{"id": k, "text": v} for k, v in {**queries, "q9": "unjudged"}.items()]
        ),
        "relevant_docs": qrels,
    }
    assert from_split_data("SciFact", "test", mteb_split) == load_beir(tmp_path / "mteb" / "SciFact")


def test_mteb_names_are_checked_against_mteb_before_any_work(tmp_path, monkeypatch):
    pytest.importorskip("mteb")
    from embedlab.data.mteb_tasks import load_mteb_task

    with pytest.raises(DataError, match=r"'SciFactx' not found\. Did you mean: 'SciFact'"):
        split_tasks("stsb,mteb:SciFactx")
    with pytest.raises(DataError, match="a STS task; mteb:TASK reads retrieval tasks"):
        split_tasks("mteb:STSBenchmark")
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))  # no local copy: the hub, which is offline here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match=r"mteb/NFCorpus/ .*mteb/nfcorpus from the hub"):
        load_mteb_task("NFCorpus")
