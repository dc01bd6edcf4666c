"""In-batch negatives that skip the anchor's own label: MNRL for large random batches of labelled pairs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from torch import Tensor

from embedlab.errors import ConfigError


class LabelMaskedMNRL(MultipleNegativesRankingLoss):
    """MultipleNegativesRankingLoss that leaves out of each anchor's softmax every other row's positive
    carrying the anchor's label (the batch's `label` column): with subject-labelled pairs in large random
    batches, no same-subject paper is pushed away as if it were unrelated. sentence-transformers has no such
    option, and a sampler cannot help once a batch must repeat labels (a batch of 256 over 20 subjects).
    Scale and similarity are MNRL's; explicit negatives stay candidates. `loss.mask_same_label: true` in a
    config.

    Example::

        loss = LabelMaskedMNRL(model)  # train data: anchor, positive[, negative], label (an int per row)
    """

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """Each anchor's cross-entropy over the batch, other rows' same-label positives masked."""
        if labels is None:
            raise ConfigError("loss.mask_same_label needs a 'label' column in the training data")
        queries, docs = embeddings[0], torch.cat(embeddings[1:])
        scores = self.similarity_fct(queries, docs) * self.scale
        rows = torch.arange(len(queries), device=scores.device)
        masked = torch.zeros_like(scores, dtype=torch.bool)
        masked[:, : len(queries)] = labels[:, None] == labels[None, :]
        masked[rows, rows] = False  # the anchor's own positive stays
        return F.cross_entropy(scores.masked_fill(masked, -torch.inf), rows)
