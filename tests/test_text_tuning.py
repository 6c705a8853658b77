"""LoRA tuning of the review encoder (`train --tune-text`), on the real MiniLM."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from conftest import AMAZON, require_data
from segassist.training.text_tuning import TunedEncoder, balanced_sample, tune_encoder
from segassist.warehouse.importers.writer import write_batches
from segassist.warehouse.synthetic import generate


def test_the_tuning_sample_balances_the_stars():
    ratings = np.array([5] * 500 + [4] * 60 + [1] * 7 + [3] * 20)
    rows = balanced_sample(ratings, 100, seed=0)
    counts = {s: int((ratings[rows] == s).sum()) for s in (1, 3, 4, 5)}
    assert len(rows) == 100 and len(set(rows.tolist())) == 100
    # Every scarce star is taken whole; the rest is shared by the common ones.
    assert counts[1] == 7 and counts[3] == 20 and counts[4] + counts[5] == 73
    assert abs(counts[4] - counts[5]) <= 1
    assert balanced_sample(ratings, 10_000, seed=0).size == len(ratings)


def _amazon_reviews(n: int) -> tuple[list[str], np.ndarray]:
    path = require_data(AMAZON)
    texts, stars = [], []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            row = json.loads(line)
            if row["overall"] in (1, 2, 5) and row["reviewText"]:
                texts.append(row["reviewText"])
                stars.append(int(row["overall"]))
            if len(texts) >= n:
                break
    return texts, np.array(stars)


def test_a_tuned_encoder_learns_and_embeds_the_same_after_saving():
    texts, stars = _amazon_reviews(400)
    churned = (stars <= 2).astype(np.float32)  # any second target the writer carries
    tuned = tune_encoder(texts, stars, churned, max_reviews=128, batch_size=16, seed=0)
    log = tuned.log
    assert log.reviews == 128 and log.steps == 8
    assert log.last_loss < log.first_loss  # it learnt from the stars
    # Only the adapter is kept: rank-8 query/value updates of six layers.
    assert len(tuned.adapter) == 6 * 2 * 2
    held_out = texts[300:340]
    vectors = tuned.embed(held_out)
    assert vectors.shape == (40, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    from segassist.retrieval.embedders import make_embedder

    frozen = make_embedder("minilm").embed_documents(held_out)
    moved = 1 - (vectors * frozen).sum(axis=1)
    assert moved.max() > 1e-3  # the tuned encoder embeds differently
    again = TunedEncoder.from_state(tuned.state()).embed(held_out)
    assert np.allclose(again, vectors, atol=1e-5)


def test_too_few_rated_reviews_say_so():
    from segassist.core.errors import UserInputError

    with pytest.raises(UserInputError, match="at least 16 rated reviews"):
        tune_encoder(["fine"] * 5, np.full(5, 5), max_reviews=100)


def test_train_tunes_compares_and_scores_with_the_encoder_it_kept(
    sqlite_engine, tmp_path, monkeypatch
):
    """`train --tune-text` fits the segmenter on frozen and on tuned vectors and says which
    it kept; a kept encoder travels with the model, and scoring embeds with it."""
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index
    from segassist.training import pipeline
    from segassist.training.dataset import build_data
    from segassist.training.features import features_now
    from segassist.training.registry import load_serving
    from sqlalchemy import text

    write_batches(sqlite_engine, generate(300, seed=2), sha256="synthetic")
    index = open_index(open_client(tmp_path / "chroma"), "minilm", name="texts")
    sync_index(sqlite_engine, index)
    params = {"max_epochs": 30, "patience": 4, "n_segments": 4}
    # Kept whatever the losses say, to follow a tuned encoder through the artefact.
    monkeypatch.setattr(pipeline.TunedRun, "kept", property(lambda self: True))
    result = pipeline.train_model(
        sqlite_engine,
        tmp_path / "models",
        index=index,
        params=params,
        tune_text=True,
        tune_reviews=64,
    )
    summary = result.metrics["text_tuning"]
    assert summary["kept"] and summary["reviews"] == 64
    assert summary["validation_loss_frozen"] > 0 and summary["validation_loss_tuned"] > 0
    artefact = load_serving(sqlite_engine)
    assert artefact.metadata["config"]["text_model"] == "minilm+lora"
    assert artefact.text_encoder is not None
    pipeline.score_customers(sqlite_engine, index=index)
    features = features_now(sqlite_engine, artefact.metadata)
    tuned = build_data(features, index, labelled=False, encoder=artefact.text_encoder)
    frozen = build_data(features, index, labelled=False)
    assert tuned.has_text.sum() == frozen.has_text.sum() > 0
    assert not np.allclose(tuned.text, frozen.text, atol=1e-3)
    expected = artefact.segmenter.predict_traits(tuned)["churn_risk"]
    with sqlite_engine.connect() as conn:
        stored = dict(
            conn.execute(text("SELECT customer_id, churn_risk FROM customer_scores")).all()
        )
    assert np.allclose([stored[c] for c in tuned.customer_ids], expected, atol=1e-5)


def test_a_tuned_encoder_needs_minilm_vectors(sqlite_engine, tmp_path):
    from segassist.core.errors import UserInputError
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index
    from segassist.training.pipeline import train_model

    write_batches(sqlite_engine, generate(120, seed=3), sha256="synthetic")
    index = open_index(open_client(tmp_path / "chroma"), "fast", name="texts")
    sync_index(sqlite_engine, index)
    with pytest.raises(UserInputError, match="fine-tunes the minilm encoder"):
        train_model(sqlite_engine, tmp_path / "models", index=index, tune_text=True)
