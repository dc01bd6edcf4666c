"""embedlab: from text data to a deployed, measured sentence-embedding model."""

__version__ = "0.1.0"
