"""The embedding service: FastAPI app factory, settings, micro-batching."""

from embedlab.serve.app import create_app
from embedlab.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
