"""Model cards carry the metadata the hub and sentence-transformers read: the base model's hub id and
licence, the training datasets, and the results as a model-index equal to the card's own table."""

from __future__ import annotations

import yaml

from embedlab.config import load_config
from embedlab.evaluate.records import EvalRecord
from embedlab.evaluate.report import model_card
from embedlab.train.run_folder import training_datasets

RECORDS = [
    EvalRecord("stsb", "test", "spearman_cosine", 85.99, 1379),
    EvalRecord("stsb", "test", "pearson_cosine", 86.40, 1379),
    EvalRecord("sickr", "full", "spearman_cosine", 79.12, 9927),
    EvalRecord("average", "", "spearman_cosine", 82.55, 2),
]


def front_matter(card: str) -> dict:
    _, header, _ = card.split("---\n", 2)
    return yaml.safe_load(header)


def test_the_card_front_matter_is_what_the_hub_reads():
    card = model_card(name="stsb-minilm", base_model="all-MiniLM-L6-v2", after=RECORDS, before=None,
                      config_yaml="name: x\n", training_summary={},
                      datasets=["sentence-transformers/stsb"])  # fmt: skip
    meta = front_matter(card)
    assert meta["library_name"] == "sentence-transformers" and meta["license"] == "apache-2.0"
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"  # the hub id, not a local name
    assert meta["datasets"] == ["sentence-transformers/stsb"]
    (index,) = meta["model-index"]
    found = {
        (r["dataset"]["type"], r["dataset"]["split"]): r["metrics"][0]["value"] for r in index["results"]
    }
    assert found == {("sentence-transformers/stsb", "test"): 0.8599, ("mteb/sickr-sts", "test"): 0.7912}
    assert "85.99" in card  # the same figure in the card's own table


def test_a_local_base_model_keeps_its_path_and_claims_no_licence():
    meta = front_matter(model_card(name="x", base_model="runs/mine/model", after=[], before=None,
                                   config_yaml="", training_summary={}))  # fmt: skip
    assert meta["base_model"] == "runs/mine/model" and "license" not in meta and "model-index" not in meta


def test_training_datasets_name_the_hub_copy_of_the_training_split():
    assert training_datasets(load_config("configs/stsb-minilm.yaml")) == ["sentence-transformers/stsb"]
