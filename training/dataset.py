"""Assembling segmenter inputs: SQL features + text vectors from the review index."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
from segassist.training.features import FeatureSet
from segassist.training.segmenter import SegmenterData


def text_dimension(index) -> int:
    """The width of the text vectors: the index's embedder's, else the default embedder's
    (a model trained without an index still needs a text input of some width)."""
    if index is not None:
        return int(index.embedder.dimension)
    from segassist.retrieval.embedders import DEFAULT_EMBEDDER, EMBEDDERS

    return int(EMBEDDERS[DEFAULT_EMBEDDER].dimension)


def build_data(
    features: FeatureSet, index=None, *, labelled: bool = True, encoder=None
) -> SegmenterData:
    """Rows of `features` with each customer's text vector and reviews up to the cutoff.

    Without an index (behaviour-only data, or not indexed yet) every customer
    gets the "no text" input and there are no reviews for the text loss. With an
    `encoder` (a LoRA-tuned one, `text_tuning.TunedEncoder`) the stored texts are
    embedded again by it instead of reading the index's vectors.
    """
    ids = features.customer_ids
    n = len(ids)
    width = text_dimension(index)
    text = np.zeros((n, width), dtype=np.float32)
    has_text = np.zeros(n, dtype=np.float32)
    review_vectors = np.zeros((0, width), dtype=np.float32)
    review_ratings = np.zeros(0, dtype=np.int64)
    review_owner = np.zeros(0, dtype=np.int64)
    if index is not None and index.count():
        from segassist.retrieval.search import per_customer, stored_texts

        as_of = features.window.cutoff
        row_of = {cid: i for i, cid in enumerate(ids)}
        stored = stored_texts(index, as_of=as_of, documents=encoder is not None)
        if encoder is not None:  # only these customers' texts: embedding is the slow part
            mine = [i for i, cid in enumerate(stored.customer_ids) if cid in row_of]
            stored = stored.select(mine)
            stored = replace(stored, vectors=encoder.embed(stored.documents))
        vectors = per_customer(stored, as_of)
        for source_row, cid in enumerate(vectors.customer_ids):
            if cid in row_of:
                text[row_of[cid]] = vectors.recency_weighted[source_row]
                has_text[row_of[cid]] = 1.0
        owner = np.array([row_of.get(cid, -1) for cid in stored.customer_ids], dtype=np.int64)
        keep = (owner >= 0) & (stored.ratings >= 1) & (stored.ratings <= 5)
        review_vectors, review_ratings, review_owner = (
            stored.vectors[keep],
            stored.ratings[keep],
            owner[keep],
        )
    frame = features.frame
    return SegmenterData(
        customer_ids=ids,
        behaviour=features.features,
        text=text,
        has_text=has_text,
        churned=frame["churned"].to_numpy() if labelled else None,
        future_value=frame["future_value"].to_numpy() if labelled else None,
        review_vectors=review_vectors,
        review_ratings=review_ratings,
        review_owner=review_owner,
    )


@dataclass(frozen=True)
class Splits:
    """Customer-level train / validation / test split."""

    train: SegmenterData
    validation: SegmenterData
    test: SegmenterData


def split_by_customer(data: SegmenterData, seed: int = 0, shares=(0.7, 0.15)) -> Splits:
    """Split customers (never reviews) into train/validation/test, repeatably for a seed."""
    order = np.random.default_rng(seed).permutation(len(data))
    n_train = int(shares[0] * len(data))
    n_val = int(shares[1] * len(data))
    return Splits(
        data.subset(np.sort(order[:n_train])),
        data.subset(np.sort(order[n_train : n_train + n_val])),
        data.subset(np.sort(order[n_train + n_val :])),
    )


def fingerprint(data: SegmenterData, feature_names: list[str]) -> str:
    """A hash of the training inputs, stored with the model version."""
    digest = hashlib.sha256()
    digest.update("\n".join(data.customer_ids).encode())
    digest.update("\n".join(feature_names).encode())
    for array in (data.behaviour, data.text, data.churned, data.future_value, data.review_ratings):
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]
