"""LoRA fine-tuning of the review encoder on the text targets (PEFT).

Frozen sentence vectors know what a review is about; nobody taught them what
a one-star review or a customer about to lapse sounds like in this shop.
`tune_encoder` adds rank-8 LoRA adapters to MiniLM's attention (query and
value of all six layers, 74k weights beside the frozen 22M), trains them with a
rating head (cross-entropy over 1-5 stars, the L_T target) and, where labels
exist, a churn head (the writer's churn label, BCE) on the training
customers' reviews only, and merges them into a copy of the encoder. The
adapter (~300 KB) is saved with the model version; training, scoring and
explaining then embed the stored review texts with it instead of reading the
index's frozen vectors.

It is an option (`segassist train --tune-text`), kept only where it helps:
`train` fits the segmenter on both the frozen and the tuned vectors and keeps
the tuned encoder only when its validation loss on the shared targets is lower.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from segassist.core.errors import UserInputError

RANK = 8
TARGETS = ("query", "value")
TRAIN_TOKENS = 128  # reviews are cut here while tuning (embedding reads up to 256)
DEFAULT_MAX_REVIEWS = 2000


@dataclass(frozen=True)
class TuningLog:
    """What one tuning run did, for the CLI and the report."""

    reviews: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float


@dataclass
class TunedEncoder:
    """MiniLM with a trained LoRA adapter; `embed` gives unit vectors like the index's."""

    adapter: dict  # LoRA weights by parameter name (peft's state dict)
    log: TuningLog | None = None
    _model: object = field(default=None, init=False, repr=False)

    def model(self):
        """The encoder with the adapter merged in (built on first use)."""
        if self._model is None:
            from peft import set_peft_model_state_dict

            model = _with_adapter()
            set_peft_model_state_dict(model[0].auto_model, self.adapter)
            self._model = _ready(model)
        return self._model

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors (n, 384) for `texts`."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.model().encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            # Minutes for a corpus on a CPU (score, evaluate): a bar where someone watches.
            show_progress_bar=len(texts) > 1000 and sys.stderr.isatty(),
        )
        return np.asarray(vectors, dtype=np.float32)

    def state(self) -> dict:
        """What `from_state` needs (saved with the model version)."""
        log = None if self.log is None else self.log.__dict__
        return {"adapter": self.adapter, "rank": RANK, "targets": list(TARGETS), "log": log}

    @classmethod
    def from_state(cls, state: dict) -> TunedEncoder:
        """The encoder saved by `state`."""
        log = state.get("log")
        return cls(state["adapter"], TuningLog(**log) if log else None)


def check_tunable(text_model: str | None) -> None:
    """LoRA tunes MiniLM; other embedders' vectors would not be comparable with it."""
    if text_model != "minilm":
        raise UserInputError(
            f"--tune-text fine-tunes the minilm encoder, but the review index holds "
            f"{text_model or 'no'} vectors. Index the reviews with minilm "
            "('segassist index --rebuild --model minilm') or train without --tune-text."
        )


def _with_adapter():
    """A fresh MiniLM (never the embedder's shared copy) with untrained LoRA layers."""
    from peft import LoraConfig, inject_adapter_in_model
    from segassist.retrieval.embedders import load_minilm

    model = load_minilm()
    config = LoraConfig(r=RANK, lora_alpha=2 * RANK, target_modules=list(TARGETS), lora_dropout=0.1)
    inject_adapter_in_model(config, model[0].auto_model)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = "lora_" in name
    return model


def _ready(model):
    """`model` for embedding: each LoRA update folded into its frozen weight (embedding
    then costs what MiniLM does), dropout off."""
    import torch
    from peft.tuners.lora import LoraLayer

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoraLayer):
                module.merge()
    for parameter in model.parameters():
        parameter.requires_grad = False
    return model.eval()


def balanced_sample(ratings: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Up to `limit` review rows with the star ratings as evenly represented as they allow.

    Real shops are mostly five-star; an unbalanced sample would teach the encoder
    little beyond "five stars".
    """
    rng = np.random.default_rng(seed)
    pools = [rng.permutation(np.flatnonzero(ratings == stars)) for stars in range(1, 6)]
    pools = [p for p in pools if len(p)]
    chosen: list[int] = []
    while pools and len(chosen) < limit:
        share = max(1, (limit - len(chosen)) // len(pools))
        chosen += [int(i) for p in pools for i in p[:share]][: limit - len(chosen)]
        pools = [p[share:] for p in pools if len(p) > share]
    return np.sort(np.asarray(chosen, dtype=np.int64))


def tune_encoder(
    texts: list[str],
    ratings: np.ndarray,
    churned: np.ndarray | None = None,
    *,
    max_reviews: int = DEFAULT_MAX_REVIEWS,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> TunedEncoder:
    """Train LoRA adapters on reviews' stars (1-5) and their writers' churn labels (0/1).

    Only pass the training customers' reviews: what the encoder learns must not
    have seen the customers it is judged on.
    """
    import torch
    from peft import get_peft_model_state_dict
    from torch.nn import functional as F

    rows = balanced_sample(np.asarray(ratings), max_reviews, seed)
    if len(rows) < batch_size:
        raise UserInputError(
            f"--tune-text needs at least {batch_size} rated reviews from the training "
            f"customers; there are {len(rows)}."
        )
    torch.manual_seed(seed)
    model = _with_adapter()
    embedding_tokens, model.max_seq_length = model.max_seq_length, TRAIN_TOKENS
    rating_head, churn_head = torch.nn.Linear(384, 5), torch.nn.Linear(384, 1)
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainable += [*rating_head.parameters(), *churn_head.parameters()]
    optimiser = torch.optim.AdamW(trainable, lr=learning_rate)
    stars = torch.as_tensor(np.asarray(ratings)[rows] - 1, dtype=torch.long)
    lapsed = None if churned is None else torch.as_tensor(churned[rows], dtype=torch.float32)
    model.train()
    started, losses, generator = time.perf_counter(), [], np.random.default_rng(seed)
    for _ in range(epochs):
        order = generator.permutation(len(rows))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            inputs = model.preprocess([texts[rows[i]] for i in batch])
            vectors = model(inputs)["sentence_embedding"]
            loss = F.cross_entropy(rating_head(vectors), stars[batch])
            if lapsed is not None:
                logits = churn_head(vectors).squeeze(1)
                loss = loss + F.binary_cross_entropy_with_logits(logits, lapsed[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            if on_step:
                on_step(len(batch), losses[-1])
    log = TuningLog(
        len(rows), len(losses), time.perf_counter() - started, losses[0], _tail_mean(losses)
    )
    weights = get_peft_model_state_dict(model[0].auto_model)
    tuned = TunedEncoder({k: v.detach().clone() for k, v in weights.items()}, log)
    # The trained model embeds next (train, evaluate): kept rather than loaded again.
    model.max_seq_length = embedding_tokens
    tuned._model = _ready(model)
    return tuned


def tune_on_customers(
    index, as_of, customers, *, max_reviews: int = DEFAULT_MAX_REVIEWS, seed: int = 0, on_step=None
) -> TunedEncoder:
    """Tune on the rated reviews that `customers` (a labelled `SegmenterData`, the
    training split) wrote up to `as_of`, each review labelled with its writer's churn."""
    from segassist.retrieval.search import stored_texts

    stored = stored_texts(index, as_of=as_of, documents=True)
    churn_of = dict(zip(customers.customer_ids, customers.churned, strict=True))
    rows = [
        i
        for i, (cid, stars) in enumerate(zip(stored.customer_ids, stored.ratings, strict=True))
        if cid in churn_of and 1 <= stars <= 5
    ]
    churned = np.array([churn_of[stored.customer_ids[i]] for i in rows], dtype=np.float32)
    return tune_encoder(
        [stored.documents[i] for i in rows],
        stored.ratings[rows],
        churned if 0 < churned.sum() < len(churned) else None,  # one class teaches nothing
        max_reviews=max_reviews,
        seed=seed,
        on_step=on_step,
    )


def _tail_mean(losses: list[float], share: float = 0.1) -> float:
    """Mean of the last tenth of the step losses (one step's loss is noisy)."""
    tail = losses[-max(1, int(len(losses) * share)) :]
    return float(np.mean(tail))


def tuning_sentence(summary: dict) -> str:
    """What `train --tune-text` found, in one line."""
    verdict = "kept" if summary["kept"] else "not kept (the frozen vectors did as well)"
    return (
        f"Text encoder LoRA-tuned on {summary['reviews']} training reviews in "
        f"{summary['seconds']:.0f} s; validation loss {summary['validation_loss_tuned']:.4f} "
        f"tuned vs {summary['validation_loss_frozen']:.4f} frozen: {verdict}."
    )


def star_probe(train, test) -> float:
    """Macro-F1 of review stars on `test`'s reviews from a linear model fitted on `train`'s
    (both `SegmenterData`): how much of the rating the vectors carry, whatever fed them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    if len(set(train.review_ratings.tolist())) < 2 or not len(test.review_ratings):
        return float("nan")
    probe = LogisticRegression(max_iter=2000, class_weight="balanced")
    probe.fit(train.review_vectors, train.review_ratings)
    predicted = probe.predict(test.review_vectors)
    return float(f1_score(test.review_ratings, predicted, average="macro"))


@dataclass(frozen=True)
class EncoderComparison:
    """Frozen against LoRA-tuned review vectors on the same customers (`evaluate --tune-text`)."""

    log: TuningLog
    embed_seconds: float  # embedding every text again with the tuned encoder
    fit_seconds: float  # one fusion fit on the frozen vectors, for scale
    stars_frozen: float  # macro-F1 of a linear probe on the test customers' reviews
    stars_tuned: float
