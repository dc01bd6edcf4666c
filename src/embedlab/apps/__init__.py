"""Applications built on the embeddings; today the arXiv domain-adaptation pipeline (`apps.arxiv`)."""
