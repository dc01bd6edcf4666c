"""Model soups: the average of fine-tunes is their mean weight by weight; greedy soups are chosen on dev."""

from __future__ import annotations

import pytest
import torch
from sentence_transformers import SentenceTransformer

from embedlab.errors import ConfigError
from embedlab.train.soup import average_weights, greedy_soup


def perturbed(model_dir, scale: float, seed: int, folder) -> SentenceTransformer:
    model = SentenceTransformer(str(model_dir), device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    model.save(str(folder))
    return model


def test_a_soup_is_the_mean_of_its_models_and_loads_anywhere(tiny_model_dir, tmp_path):
    a = perturbed(tiny_model_dir, 0.01, 1, tmp_path / "a")
    b = perturbed(tiny_model_dir, 0.01, 2, tmp_path / "b")
    soup = average_weights([a, b])
    soup.save(str(tmp_path / "soup"))
    loaded = SentenceTransformer(str(tmp_path / "soup"), device="cpu")
    for name, tensor in loaded.state_dict().items():
        if torch.is_floating_point(tensor):
            expected = (a.state_dict()[name] + b.state_dict()[name]) / 2
            torch.testing.assert_close(tensor, expected, rtol=0, atol=1e-6)
    assert loaded.encode(["a dog runs"]).shape == (1, 32)
    assert not torch.equal(a.state_dict()["0.model.embeddings.word_embeddings.weight"],
                           soup.state_dict()["0.model.embeddings.word_embeddings.weight"])  # fmt: skip


def test_models_of_another_architecture_are_refused(tiny_model_dir, tiny_bert_with_real_vocabulary):
    with pytest.raises(ConfigError, match="model 2 of the soup has other weights"):
        average_weights(
            [
                SentenceTransformer(str(tiny_model_dir), device="cpu"),
                SentenceTransformer(str(tiny_bert_with_real_vocabulary), device="cpu"),
            ]
        )


def test_greedy_soup_keeps_only_members_that_do_not_lower_the_dev_score(tiny_model_dir, tmp_path):
    models = [
        perturbed(tiny_model_dir, s, i, tmp_path / n)
        for i, (n, s) in enumerate([("a", 0.01), ("b", 0.01), ("c", 1.0)])
    ]
    key = "0.model.embeddings.word_embeddings.weight"
    target = (models[0].state_dict()[key] + models[1].state_dict()[key]) / 2

    def dev_score(model) -> float:  # closer to the mean of a and b is better
        return -float((model.state_dict()[key] - target).norm())

    soup = greedy_soup([tmp_path / n for n in "abc"], dev_score)
    assert sorted(p.name for p in soup.members) == ["a", "b"] and soup.dev == pytest.approx(0.0, abs=1e-4)
    torch.testing.assert_close(soup.model.state_dict()[key], target, rtol=0, atol=1e-6)
    assert soup.alone == {tmp_path / n: dev_score(models[i]) for i, n in enumerate("abc")}


def test_soup_command_averages_folders_chosen_on_dev_and_saves_a_card(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from embedlab.cli import app

    a = perturbed(tiny_model_dir, 0.01, 1, tmp_path / "a")
    b = perturbed(tiny_model_dir, 0.01, 2, tmp_path / "b")
    out = tmp_path / "soup"
    args = ["soup", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "--how", "uniform"]
    result = CliRunner().invoke(app, [*args, "--tasks", "stsb"])
    assert result.exit_code == 0, result.output
    assert "uniform soup of 2 of 2 models" in result.stdout
    soup = SentenceTransformer(str(out), device="cpu")
    key = "0.model.encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(soup.state_dict()[key], (a.state_dict()[key] + b.state_dict()[key]) / 2)
    card = (out / "README.md").read_text()
    assert f"members**: {tmp_path / 'a'}, {tmp_path / 'b'}" in card and "stsb:dev" in card

    again = ["soup", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "--tasks", "stsb"]
    refused = CliRunner().invoke(app, again)
    assert refused.exit_code == 2 and "earlier model; pass --force to replace it" in refused.stderr
    own_input = CliRunner().invoke(app, ["soup", str(tmp_path / "a"), str(out), "--out", str(out), "--force"])
    assert own_input.exit_code == 2 and "one of this command's inputs" in own_input.stderr
    greedy = CliRunner().invoke(app, [*again, "--force"])
    assert greedy.exit_code == 0, greedy.output  # the earlier soup at --out is replaced, atomically
    assert "greedy soup of" in greedy.stdout and (out / "modules.json").is_file()


def test_soup_command_refuses_bad_input_in_one_line(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from embedlab.cli import app

    perturbed(tiny_model_dir, 0.01, 1, tmp_path / "a")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    a, s = str(tmp_path / "a"), str(tmp_path / "s")
    pair = ["soup", a, str(tiny_model_dir)]
    cases = [
        (["soup", a, "--out", s], "two or more models"),
        (["soup", a, str(mine), "--out", s], "not a sentence-transformers model"),
        ([*pair, "--out", s, "--how", "best"], "choose uniform"),
        ([*pair, "--out", s, "--dev", "stsb:dev,sickr"], "one split"),
        ([*pair, "--out", str(mine), "--tasks", "stsb", "--force"], "embedlab did not write"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
    assert (mine / "notes.txt").read_text() == "keep me" and not (tmp_path / "s").exists()
