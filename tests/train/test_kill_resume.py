"""A training process killed with SIGKILL while it saves a checkpoint: `--resume` takes the newest complete
checkpoint (the Trainer writes in place; one cut short is passed over) and the run ends as an uninterrupted
one would: every step once, the model saved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from embedlab.config import load_config

pytestmark = pytest.mark.slow

CHILD = r"""
import dataclasses, json, os, signal, sys
from pathlib import Path

import transformers.trainer as hf
from transformers.trainer_callback import TrainerState

point, config_path = sys.argv[1], sys.argv[2]
KILL_STEP = 4

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "weights-written":  # the weights are on disk, the optimizer and state are not
    original = hf.Trainer._save_optimizer_and_scheduler
    def patched(self, output_dir):
        if self.state.global_step == KILL_STEP:
            die()
        return original(self, output_dir)
    hf.Trainer._save_optimizer_and_scheduler = patched
elif point == "state-half-written":  # trainer_state.json cut off in the middle
    original = TrainerState.save_to_json
    def patched(self, json_path):
        if self.global_step == KILL_STEP:
            text = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)
            Path(json_path).write_text(text[: len(text) // 2])
            die()
        return original(self, json_path)
    TrainerState.save_to_json = patched
elif point == "before-rotation":  # the checkpoint is whole; older ones not yet rotated, no time file
    original = hf.rotate_checkpoints
    def patched(*args, **kwargs):
        if (Path(kwargs["output_dir"]) / f"checkpoint-{KILL_STEP}").is_dir():
            die()
        return original(*args, **kwargs)
    hf.rotate_checkpoints = patched

from embedlab.config import load_config
from embedlab.train import train

train(load_config(config_path))
"""


@pytest.mark.parametrize(
    ("point", "resumes_from"),
    [("weights-written", 2), ("state-half-written", 2), ("before-rotation", 4)],
)
def test_resume_after_a_kill_while_saving(point, resumes_from, tmp_path, tiny_model_dir, synthetic_data):
    from embedlab.train import train

    config_path = tmp_path / "kill.yaml"
    config_path.write_text(
        "name: kill\n"
        f"model: {tiny_model_dir}\n"
        f"output_dir: {tmp_path / 'runs'}\n"
        "train: {task: stsb, split: train, max_pairs: 64}\n"
        "dev: null\n"
        "training: {epochs: 1, batch_size: 8, eval_steps: 2, logging_steps: 1, save_total_limit: 3}\n"
        "eval: {tasks: [stsb], before: false}\n"
    )
    env = {**os.environ, "EMBEDLAB_DATA_DIR": str(synthetic_data)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, point, str(config_path)], env=env, capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    run = tmp_path / "runs" / "kill"
    assert not (run / "model").exists()

    logged = []
    result = train(load_config(config_path), resume=True, log=logged.append)
    assert f"resuming from checkpoint-{resumes_from}" in logged[0]
    assert result.global_step == 8 and (run / "model" / "model.safetensors").is_file()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [s for s, line in zip(steps, (run / "metrics.jsonl").read_text().splitlines(), strict=True)
              if "loss" in json.loads(line)]  # fmt: skip
    assert losses == list(range(1, 9))  # every step logged once across the kill
    assert all((p / "trainer_state.json").is_file() for p in Path(run / "checkpoints").glob("checkpoint-*"))
