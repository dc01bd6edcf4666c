"""Model names → local folders (packaged copies, cached assemblies, paths) or hub ids."""

from embedlab.models.registry import KNOWN_MODELS, load_model, resolve

__all__ = ["KNOWN_MODELS", "load_model", "resolve"]
