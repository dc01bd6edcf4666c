"""Corpus embedding: documents in, Parquet shards of vectors out, on this machine or on a Ray cluster."""

from embedlab.embed.corpus import EmbedResult, embed_corpus
from embedlab.embed.shards import read_vectors, read_vectors_manifest

__all__ = ["EmbedResult", "embed_corpus", "read_vectors", "read_vectors_manifest"]
