"""FAISS indexes of embedded documents, saved atomically with their documents and a manifest."""

from embedlab.index.faiss_index import DocumentIndex, Hit

__all__ = ["DocumentIndex", "Hit"]
