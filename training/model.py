"""The fusion network: behaviour and review text in one customer embedding.

    behaviour x_b --BehaviourEncoder--> h_b --+
                                              +--> z (fused) --> churn head   (BCE)  \\ L_B
    text t (384) ----TextEncoder------> h_t --+              --> value head   (MSE)  /
     (or a learned "no text" vector when the customer wrote nothing)
    each review vector --TextEncoder--> rating head (cross-entropy over 1-5 stars) = L_T

    L = L_B + text_weight * L_T, where
      L_B = BCE(churn) + value_weight * MSE(value) + reconstruction of x_b from z
      L_T = CE(review ratings) + reconstruction of t from z (cosine), for customers with text

The text encoder is shared between the customer's text vector and each
review's vector, so learning to read ratings from review vectors (L_T) shapes
what the fused embedding knows of what the customer writes. The sentence
vectors themselves stay frozen (transfer from the pretrained encoder).

z here serves the predictions (churn, value, ratings). Segments are placed in
a separate segment space (`views.py`, `prototypes.py`): k-means on this z
found what predicts churn and value, not what tells customers apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class FusionConfig:
    """Everything needed to rebuild a FusionNet from a checkpoint."""

    n_behaviour: int
    text_dim: int = 384
    hidden: int = 64
    embed_dim: int = 16
    dropout: float = 0.1
    use_behaviour: bool = True
    use_text: bool = True
    text_weight: float = 1.0
    value_weight: float = 1.0
    reconstruction_weight: float = 1.0

    def to_dict(self) -> dict:
        """Plain dict for JSON and checkpoints."""
        return asdict(self)


def _mlp(n_in: int, hidden: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_out)
    )


class FusionNet(nn.Module):
    """Behaviour encoder + text encoder -> fused embedding -> churn, value and rating heads."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.behaviour = _mlp(c.n_behaviour, c.hidden, c.embed_dim, c.dropout)
        self.text = _mlp(c.text_dim, c.hidden, c.embed_dim, c.dropout)
        self.no_text = nn.Parameter(torch.zeros(c.embed_dim))
        self.norm = nn.LayerNorm(c.embed_dim)
        self.churn_head = nn.Linear(c.embed_dim, 1)
        self.value_head = nn.Linear(c.embed_dim, 1)
        self.rating_head = nn.Linear(c.embed_dim, 5)
        # Decoders keep z faithful to both inputs, not only to what predicts churn
        # and value, so that segments found in z reflect who the customers are.
        self.behaviour_decoder = nn.Linear(c.embed_dim, c.n_behaviour)
        self.text_decoder = nn.Linear(c.embed_dim, c.text_dim)

    def embed(self, behaviour: torch.Tensor, text: torch.Tensor, has_text: torch.Tensor):
        """The fused customer embedding z (n, embed_dim)."""
        parts = torch.zeros(behaviour.shape[0], self.config.embed_dim, device=behaviour.device)
        if self.config.use_behaviour:
            parts = parts + self.behaviour(behaviour)
        if self.config.use_text:
            mask = has_text.unsqueeze(1)
            parts = parts + mask * self.text(text) + (1 - mask) * self.no_text
        return self.norm(parts)

    def forward(self, batch: dict[str, torch.Tensor]):
        """Return (outputs, loss); loss is None unless the batch carries targets."""
        z = self.embed(batch["behaviour"], batch["text"], batch["has_text"])
        outputs = {
            "embedding": z,
            "churn_logit": self.churn_head(z).squeeze(1),
            "value": self.value_head(z).squeeze(1),
        }
        if "churned" not in batch:
            return outputs, None
        c = self.config
        loss_b = F.binary_cross_entropy_with_logits(outputs["churn_logit"], batch["churned"])
        loss_b = loss_b + c.value_weight * F.mse_loss(outputs["value"], batch["value"])
        if c.use_behaviour:
            rebuilt = self.behaviour_decoder(z)
            loss_b = loss_b + c.reconstruction_weight * F.mse_loss(rebuilt, batch["behaviour"])
        loss_t = torch.zeros((), device=z.device)
        reviews = batch.get("review_vectors")
        if c.use_text and reviews is not None and len(reviews):
            logits = self.rating_head(self.text(reviews))
            loss_t = F.cross_entropy(logits, batch["review_ratings"])
        outputs["loss_rating"] = loss_t
        if c.use_text and batch["has_text"].sum() > 0:
            mask = batch["has_text"] > 0
            rebuilt = F.normalize(self.text_decoder(z[mask]), dim=1)
            cosine = (rebuilt * batch["text"][mask]).sum(dim=1)
            loss_t = loss_t + c.reconstruction_weight * (1 - cosine).mean()
        outputs["loss_behaviour"], outputs["loss_text"] = loss_b, loss_t
        return outputs, loss_b + self.config.text_weight * loss_t
