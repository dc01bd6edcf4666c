"""A run in stages (`stages:` in the config): NLI first, then STS-B — the recipe behind the published
stsb-*-v2 models. Each stage is an ordinary run folder, runs/NAME/STAGE/, started from the model the stage
before it made; a finished stage is kept when the run is started again, an interrupted one resumes.
"""

from __future__ import annotations

from embedlab.config import EvalConfig, RunConfig, TrainingConfig
from embedlab.hardware import is_main_process
from embedlab.io import open_dir, write_json_atomic, write_text_atomic
from embedlab.train.run_folder import RunResult


def stage_configs(config: RunConfig) -> list[RunConfig]:
    """The run config of each stage: its data, loss and training; the starting model is the previous stage's
    model folder; the run's evaluation tasks are scored after the last stage only; a stage at bf16 `auto`
    takes the run's bf16 setting (what `--bf16` sets).

    Example::

        [nli, stsb] = stage_configs(load_config("configs/nli-stsb-minilm.yaml"))
        stsb.model  # "runs/nli-stsb-minilm/nli/model"
    """
    configs, model = [], config.model
    stages = config.stages or []
    for number, stage in enumerate(stages):
        last = number == len(stages) - 1
        quiet = EvalConfig(tasks=[], before=False, batch_size=config.eval.batch_size)
        staged = RunConfig(
            name=stage.name,
            model=model,
            seed=config.seed,
            output_dir=str(config.run_dir),
            train=stage.train,
            dev=stage.dev or config.dev,
            loss=stage.loss,
            training=_with_run_precision(stage.training, config.training.bf16),
            eval=config.eval if last else quiet,
        )
        configs.append(staged)
        model = str(staged.run_dir / "model")
    return configs


def _with_run_precision(training: TrainingConfig, run_bf16: bool | str) -> TrainingConfig:
    """A stage left at bf16 `auto` follows the run's setting: `--bf16` (the run's `training.bf16`) reaches
    every stage, not only a top level that a staged run does not train with.
    """
    if training.bf16 != "auto":
        return training
    return training.model_copy(update={"bf16": run_bf16})


def train_stages(
    config: RunConfig, *, resume: bool = False, overwrite: bool = False, callbacks=None, log=lambda line: None
) -> RunResult:
    """Train each stage in turn (a finished stage with the same config is kept; with `resume`, an
    interrupted one continues from its last checkpoint) and return the last stage's result.

    Example::

        result = train_stages(load_config("configs/nli-stsb-minilm.yaml"), resume=True, log=print)
        result.model_dir  # runs/nli-stsb-minilm/stsb/model
    """
    if is_main_process():
        names = ["config.yaml", "stages.json", *(stage.name for stage in config.stages or [])]
        open_dir(config.run_dir, kind="staged run", names=names, inputs=[config.model])
        write_text_atomic(config.run_dir / "config.yaml", config.to_yaml())
    summary, result = [], None
    for staged in stage_configs(config):
        result = train_stage(staged, resume=resume, overwrite=overwrite, callbacks=callbacks, log=log)
        summary.append(
            {
                "stage": staged.name,
                "run": str(staged.run_dir),
                "steps": result.global_step,
                "minutes": round(result.train_seconds / 60, 1),
                "best_dev_spearman": result.best_dev_spearman,
            }
        )
    if is_main_process():
        write_json_atomic(config.run_dir / "stages.json", summary)
    assert result is not None  # a staged config has at least one stage
    return result


def train_stage(
    staged: RunConfig, *, resume: bool = False, overwrite: bool = False, callbacks=None, log=lambda line: None
) -> RunResult:
    """One stage: kept when it finished before with exactly this config, else trained (with `resume`, from
    its last checkpoint).

    Example::

        nli, stsb = stage_configs(config)
        train_stage(nli, resume=True, log=print).model_dir  # runs/nli-stsb-minilm/nli/model
    """
    from embedlab.train.trainer import keep_or_train

    return keep_or_train(
        staged,
        f"stage {staged.name}",
        starting=f"{staged.model} → {staged.run_dir}",
        resume=resume,
        overwrite=overwrite,
        callbacks=callbacks,
        log=log,
    )


def last_stage_after_earlier(config: RunConfig, *, resume: bool = False, log=lambda line: None) -> RunConfig:
    """Train (or keep, when finished) every stage but the last, and return the last stage's config: what a
    seed sweep of a staged run varies, so that every seed starts from the same model, as a soup needs.

    Example::

        stsb = last_stage_after_earlier(load_config("configs/nli-stsb-minilm.yaml"), log=print)
        stsb.model  # "runs/nli-stsb-minilm/nli/model", trained once
    """
    *earlier, last = stage_configs(config)
    for staged in earlier:
        train_stage(staged, resume=resume, log=log)
    return last
