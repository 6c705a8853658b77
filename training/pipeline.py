"""Train, register and score: the steps behind `segassist train` and `segassist score`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from segassist.training.dataset import Splits, build_data, fingerprint, split_by_customer
from segassist.training.drift import DriftReport, compare, reference
from segassist.training.fairness import check_features
from segassist.training.features import (
    Window,
    compute_features,
    default_window,
    features_now,
    history_days,
)
from segassist.training.profiles import build_profiles, map_points
from segassist.training.prototypes import silhouette
from segassist.training.registry import (
    load_artefact,
    load_serving,
    new_version,
    promote,
    register,
    save_artefact,
    serving_version,
)
from segassist.training.season import season_ahead
from segassist.training.segmenter import EpochLog, FusionSegmenter, SegmenterData
from segassist.training.text_tuning import (
    DEFAULT_MAX_REVIEWS,
    TunedEncoder,
    check_tunable,
    tune_on_customers,
)
from segassist.warehouse.schema import Customer, CustomerScore, Order, Segment
from sqlalchemy import Engine, delete, func, insert, select

SCORE_CHUNK = 50_000


def evaluate_split(segmenter: FusionSegmenter, data) -> dict[str, float]:
    """Churn ROC-AUC and PR-AUC, value Spearman and segment silhouette on labelled data."""
    from scipy.stats import spearmanr
    from sklearn.metrics import average_precision_score, roc_auc_score

    traits = segmenter.predict_traits(data)
    segments = segmenter.membership(traits["embedding"]).argmax(axis=1)
    both_classes = 0 < data.churned.sum() < len(data)
    return {
        "churn_roc_auc": float(roc_auc_score(data.churned, traits["churn_risk"]))
        if both_classes
        else float("nan"),
        "churn_pr_auc": float(average_precision_score(data.churned, traits["churn_risk"]))
        if both_classes
        else float("nan"),
        "value_spearman": float(spearmanr(data.future_value, traits["value_estimate"]).statistic),
        "silhouette": silhouette(traits["embedding"], segments),
        # Calibration: predicted total over actual total in the horizon (1 = exact).
        "value_sum_ratio": float(traits["value_estimate"].sum() / data.future_value.sum())
        if data.future_value.sum() > 0
        else float("nan"),
    }


@dataclass
class TrainResult:
    """What `segassist train` reports."""

    version: str
    promoted: bool
    reason: str
    metrics: dict
    path: Path


def train_model(
    engine: Engine,
    models_dir: Path,
    *,
    index=None,
    window: Window | None = None,
    params: dict | None = None,
    seed: int = 0,
    on_epoch: Callable[[EpochLog], None] | None = None,
    tune_text: bool = False,
    tune_reviews: int = DEFAULT_MAX_REVIEWS,
    on_tune_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Fit a segmenter on the warehouse, save it as a new version, promote it if not worse.

    With `tune_text`, the review encoder is also LoRA-tuned on the training
    customers' reviews and a second segmenter fitted on its vectors; the tuned
    encoder is kept only if that segmenter's validation loss on the shared targets
    (churn, value, behaviour, review stars) is lower.
    """
    if tune_text:
        check_tunable(index.model if index else None)
    window = window or default_window(engine)
    features = compute_features(engine, window)
    check_features(features.feature_names)  # never learn from who customers are
    data = build_data(features, index)
    splits = split_by_customer(data, seed)
    segmenter = FusionSegmenter(random_state=seed, **(params or {}))
    segmenter.fit(splits.train, splits.validation, on_epoch=on_epoch)
    tuned = None
    if tune_text:
        tuned = _fit_tuned(
            features, index, splits, segmenter, seed, params, tune_reviews, on_tune_step, on_epoch
        )
        if tuned.kept:
            data, splits, segmenter = tuned.data, tuned.splits, tuned.segmenter
    encoder = tuned.encoder if tuned and tuned.kept else None
    metrics = {
        "validation_loss": segmenter.best_val_loss_,
        "epochs": segmenter.epochs_,
        "n_segments": segmenter.n_segments_,
        "source_groups": segmenter.source_groups_,
        "from_groups": segmenter.from_groups_,
        "customers": {
            "train": len(splits.train),
            "validation": len(splits.validation),
            "test": len(splits.test),
        },
        "test": evaluate_split(segmenter, splits.test),
    }
    if tuned is not None:
        metrics["text_tuning"] = tuned.summary()
    text_model = (index.model + ("+lora" if encoder else "")) if index else None
    data_fingerprint = fingerprint(data, features.feature_names)
    version = new_version(data_fingerprint)
    metadata = {
        "version": version,
        "feature_names": features.feature_names,
        "categories": features.categories,
        "value_unit": features.value_unit,
        "window": {
            "cutoff": window.cutoff.isoformat(),
            "horizon_days": window.horizon_days,
            # Scoring caps tenure and recency at the history trained on.
            "max_age_days": window.max_age_days or history_days(engine, window),
        },
        "config": {**segmenter.get_params(), "text_model": text_model},
        "metrics": metrics,
        "data_fingerprint": data_fingerprint,
        "seed": seed,
        # Each feature's distribution in training, for drift checks at scoring.
        "feature_reference": reference(features.frame[features.feature_names]),
    }
    path = save_artefact(models_dir, version, segmenter, metadata, encoder)
    register(engine, version, path, metadata)
    promoted, reason = _decide_promotion(engine, segmenter, splits.validation, features, text_model)
    if promoted:
        promote(engine, version)
    return TrainResult(version, promoted, reason, metrics, path)


@dataclass
class TunedRun:
    """A segmenter fitted on LoRA-tuned text vectors, beside the frozen-vector one."""

    encoder: TunedEncoder
    data: SegmenterData
    splits: Splits
    segmenter: FusionSegmenter
    frozen_loss: float  # validation loss on the shared targets, frozen vectors
    tuned_loss: float  # the same with the tuned encoder's vectors

    @property
    def kept(self) -> bool:
        """Whether the tuned encoder helps (a lower validation loss)."""
        return self.tuned_loss < self.frozen_loss

    def summary(self) -> dict:
        """The figures `train` prints and the model's metrics keep."""
        log = self.encoder.log
        return {
            "kept": self.kept,
            "validation_loss_frozen": self.frozen_loss,
            "validation_loss_tuned": self.tuned_loss,
            "reviews": log.reviews,
            "steps": log.steps,
            "seconds": round(log.seconds, 1),
        }


def _fit_tuned(
    features, index, splits, frozen, seed, params, reviews, on_tune_step, on_epoch
) -> TunedRun:
    """Tune the encoder on the training customers' reviews, embed every text with it, and
    fit the same segmenter on the same customers."""
    encoder = tune_on_customers(
        index,
        features.window.cutoff,
        splits.train,
        max_reviews=reviews,
        seed=seed,
        on_step=on_tune_step,
    )
    data = build_data(features, index, encoder=encoder)
    tuned_splits = split_by_customer(data, seed)
    segmenter = FusionSegmenter(random_state=seed, **(params or {}))
    segmenter.fit(tuned_splits.train, tuned_splits.validation, on_epoch=on_epoch)
    return TunedRun(
        encoder,
        data,
        tuned_splits,
        segmenter,
        frozen.target_loss(splits.validation),
        segmenter.target_loss(tuned_splits.validation),
    )


def _decide_promotion(
    engine, candidate: FusionSegmenter, validation, features, candidate_text_model: str | None
) -> tuple[bool, str]:
    """Promote the candidate unless the serving model, on the same kind of inputs, has the
    lower validation loss."""
    row = serving_version(engine)
    if row is None:
        return True, "first version: now serving"
    try:
        serving = load_artefact(Path(row.artifact_path))
    except Exception as e:  # an unreadable serving artefact should not block a good new one
        return True, f"serving version {row.version} unreadable ({e}); replaced"
    if serving.feature_names != features.feature_names:
        return True, f"replaces {row.version} (different feature schema)"
    old_text = serving.metadata.get("config", {}).get("text_model")
    old_dim = serving.segmenter.network_.config.text_dim
    if old_text != candidate_text_model or old_dim != candidate.network_.config.text_dim:
        return True, (
            f"replaces {row.version} (text vectors from {candidate_text_model or 'no index'}, "
            f"were from {old_text or 'no index'})"
        )
    if "+lora" in (candidate_text_model or ""):  # each tuned encoder embeds differently
        return True, (
            f"replaces {row.version} (a newly tuned text encoder, chosen over frozen vectors "
            "on this run's validation customers)"
        )
    new_loss, old_loss = candidate.loss(validation), serving.segmenter.loss(validation)
    if new_loss <= old_loss:
        return True, f"validation loss {new_loss:.4f} <= serving {row.version}'s {old_loss:.4f}"
    return False, (
        f"validation loss {new_loss:.4f} is worse than serving {row.version}'s {old_loss:.4f}; "
        f"kept {row.version} serving"
    )


@dataclass
class ScoreResult:
    """What `segassist score` reports."""

    version: str
    customers: int
    segment_sizes: dict[int, int]
    scored_at: datetime
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> customers not scored
    drift: DriftReport | None = None
    merged: dict[int, int] = field(default_factory=dict)  # segment -> customers moved out
    season: str | None = None  # how expected spend relates to the season ahead (season.py)

    def merged_line(self) -> str | None:
        """One line on segments too small at scoring whose customers went elsewhere."""
        if not self.merged:
            return None
        moved = "; ".join(f"segment {k}: {n:,} customers" for k, n in self.merged.items())
        return (
            f"segments under the minimum share at scoring, their customers placed in their "
            f"next closest segment: {moved} (see 'segassist drift'; retrain to re-segment)."
        )

    def skipped_line(self) -> str | None:
        """One line on the customers left unscored and why, if any."""
        if not self.skipped:
            return None
        reasons = "; ".join(f"{n:,} {reason}" for reason, n in self.skipped.items())
        return f"not scored (no completed order to describe them): {reasons}."


def _without_small_segments(
    probabilities: np.ndarray, min_share: float
) -> tuple[np.ndarray, dict[int, int]]:
    """Membership with segments under `min_share` of the scored customers closed, smallest
    first, their customers moved to their next closest segment (and their probability
    shared out); returns the closed segments and how many customers each had."""
    probabilities = probabilities.copy()
    merged: dict[int, int] = {}
    while True:
        segments = probabilities.argmax(axis=1)
        open_ = [k for k in range(probabilities.shape[1]) if k not in merged]
        counts = {k: int((segments == k).sum()) for k in open_}
        small = min(open_, key=counts.get)
        if len(open_) <= 2 or counts[small] >= min_share * len(segments):
            return probabilities, merged
        merged[small] = counts[small]
        probabilities[:, small] = 0.0
        probabilities /= probabilities.sum(axis=1, keepdims=True)


def unscored_customers(engine: Engine, scored: int) -> dict[str, int]:
    """Customers the features leave out, by reason (they have no completed order)."""
    from sqlalchemy import exists

    completed = exists().where(
        Order.customer_id == Customer.customer_id, Order.is_cancelled.is_(False)
    )
    any_order = exists().where(Order.customer_id == Customer.customer_id)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(Customer)).scalar_one()
        if total <= scored:
            return {}
        only_cancelled = conn.execute(
            select(func.count()).select_from(Customer).where(any_order, ~completed)
        ).scalar_one()
        no_orders = conn.execute(
            select(func.count()).select_from(Customer).where(~any_order)
        ).scalar_one()
    reasons = {"with only cancelled orders": only_cancelled, "with no orders": no_orders}
    return {k: int(v) for k, v in reasons.items() if v}


def drift_since_training(engine: Engine, artefact=None, features=None) -> DriftReport:
    """The serving model's features today against their distribution in its training."""
    artefact = artefact or load_serving(engine)
    if features is None:
        features = features_now(engine, artefact.metadata)
    return compare(
        artefact.metadata.get("feature_reference"),
        features.frame[features.feature_names],
        artefact.version,
        artefact.metadata["window"]["cutoff"][:10],
        f"{features.window.cutoff:%Y-%m-%d}",
    )


def score_customers(engine: Engine, *, index=None) -> ScoreResult:
    """Score every customer with the serving model as of now and store the results."""
    artefact = load_serving(engine)
    features = features_now(engine, artefact.metadata)
    data = build_data(features, index, labelled=False, encoder=artefact.text_encoder)
    segmenter = artefact.segmenter
    traits = segmenter.predict_traits(data)
    season = season_ahead(engine, artefact.metadata, features.window)
    traits["value_estimate"] = traits["value_estimate"] * season.factor
    probabilities = segmenter.membership(traits["embedding"])
    probabilities, merged = _without_small_segments(probabilities, segmenter.min_share)
    segments = probabilities.argmax(axis=1)
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "customer_id": cid,
            "model_version": artefact.version,
            "segment_id": int(seg),
            "probabilities": [round(float(p), 4) for p in probs],
            "churn_risk": float(churn),
            "value_estimate": float(value),
            "scored_at": scored_at,
        }
        for cid, seg, probs, churn, value in zip(
            data.customer_ids,
            segments,
            probabilities,
            traits["churn_risk"],
            traits["value_estimate"],
            strict=True,
        )
    ]
    sizes = {int(k): int(v) for k, v in zip(*np.unique(segments, return_counts=True), strict=True)}
    with engine.begin() as conn:
        conn.execute(delete(CustomerScore).where(CustomerScore.model_version == artefact.version))
        for start in range(0, len(rows), SCORE_CHUNK):
            conn.execute(insert(CustomerScore), rows[start : start + SCORE_CHUNK])
    profiles = build_profiles(
        engine,
        artefact.version,
        features.frame[features.feature_names],
        segments,
        traits,
        value_unit=artefact.metadata.get("value_unit", "spend"),
        horizon_days=int(artefact.metadata["window"]["horizon_days"]),
        text_groups=getattr(segmenter, "source_groups_", {}).get("text", 1) > 1,
    )
    points = map_points(traits["embedding"], segments, data.customer_ids)
    with engine.begin() as conn:  # only segments with customers are stored
        conn.execute(delete(Segment).where(Segment.model_version == artefact.version))
        conn.execute(
            insert(Segment),
            [
                {
                    "model_version": artefact.version,
                    "segment_id": k,
                    "name": segment.name,
                    "size": segment.size,
                    "profile": replace(segment.profile, map_points=points.get(k, [])).to_dict(),
                }
                for k, segment in profiles.items()
            ],
        )
    skipped = unscored_customers(engine, len(rows))
    drift = drift_since_training(engine, artefact, features)
    return ScoreResult(
        artefact.version, len(rows), sizes, scored_at, skipped, drift, merged, season.sentence
    )
