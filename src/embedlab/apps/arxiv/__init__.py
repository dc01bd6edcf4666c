"""The arXiv application: preprocess → pairs → train → evaluate → report, each stage cached by its inputs."""

from embedlab.apps.arxiv.config import PipelineConfig, load_pipeline_config
from embedlab.apps.arxiv.pipeline import run_pipeline
from embedlab.apps.arxiv.seeds import run_pipeline_seeds
from embedlab.apps.arxiv.soup import soup_seeds

__all__ = ["PipelineConfig", "load_pipeline_config", "run_pipeline", "run_pipeline_seeds", "soup_seeds"]
