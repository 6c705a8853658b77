"""FusionSegmenter: the scikit-learn-style estimator around FusionNet.

`__init__` only stores hyperparameters; `fit` validates, trains with early
stopping on the validation split and returns self; learned state ends in `_`;
`random_state` makes runs repeatable.

Two parts, each fitted to what it is for:

- the network (`model.FusionNet`, L = L_B + L_T) reads both sources and
  predicts churn risk, value and review ratings;
- segments are K prototypes in the segment space z (`views.SegmentSpace`: a
  whitened behaviour code next to a text code, each scaled to the same size),
  placed where the groups each source shows combine (`prototypes.place`; K
  follows from them unless set); membership is a softmax over negative
  squared distances to the prototypes. k-means on the network's own hidden
  layer was tried first and lost to naive concatenation: trained for churn and
  value, that layer keeps what predicts them and little of what tells customers
  apart (ARI vs the truth 0.00 where only text carries the segments,
  `make bench-fusion`).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from segassist.core.errors import UserInputError
from segassist.training.views import TEXT_VIEW_DIMS, VIEW_DIMS, SegmentSpace

LOG_FEATURES_MIN_SKEW = 2.0  # features skewed more than this are log1p-transformed
RANGE_MARGIN = 1.0  # standard deviations a scored feature may pass the training range by
# Mini-batches of 256 up to this many training customers; beyond, 1/512 of them
# (at most 4,096), so an epoch over a million customers is ~1,000 steps, not 4,000.
SMALL_TRAIN = 131_072
PREDICT_CHUNK = 65_536  # customers per forward pass when predicting
SEGMENT_UNIT_ROUNDS = 10  # re-estimations of the segments in their own units (they settle in 2-5)


@dataclass
class SegmenterData:
    """Arrays for one split: customers (rows) and their reviews."""

    customer_ids: list[str]
    behaviour: np.ndarray  # (n, f) raw features
    text: np.ndarray  # (n, d) recency-weighted text vector, zeros when none
    has_text: np.ndarray  # (n,) 1.0 when the customer wrote text before the cutoff
    churned: np.ndarray | None = None  # (n,) labels
    future_value: np.ndarray | None = None  # (n,)
    review_vectors: np.ndarray | None = None  # (r, d) the reviews' own vectors; none by default
    review_ratings: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    review_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # row index

    def __post_init__(self) -> None:
        if self.review_vectors is None:  # as wide as the text vectors, whatever the embedder
            self.review_vectors = np.zeros((0, self.text.shape[1]), np.float32)

    def __len__(self) -> int:
        return len(self.customer_ids)

    def subset(self, rows: np.ndarray) -> SegmenterData:
        """The customers at `rows` (and their reviews), re-indexed."""
        position = np.full(len(self), -1)
        position[rows] = np.arange(len(rows))
        keep = np.isin(self.review_owner, rows)

        def pick(a):
            return None if a is None else a[rows]

        return SegmenterData(
            [self.customer_ids[i] for i in rows],
            self.behaviour[rows],
            self.text[rows],
            self.has_text[rows],
            pick(self.churned),
            pick(self.future_value),
            self.review_vectors[keep],
            self.review_ratings[keep],
            position[self.review_owner[keep]],
        )


@dataclass
class EpochLog:
    """Per-epoch figures passed to the progress callback."""

    epoch: int
    train_loss: float
    val_loss: float
    val_loss_behaviour: float
    val_loss_text: float
    best: bool


class FusionSegmenter:
    """Segments customers from behaviour and review text; predicts churn and value.

    Args:
        n_segments: number of segments, or "auto": as many as the combinations of the
            sources' separated groups (3-8 by silhouette when they make fewer than 3).
        min_share: no segment smaller than this share of the training customers
            (fewer segments are made instead; 0 allows any size).
        hidden, embed_dim, dropout: network sizes.
        view_dims: components of the behaviour view in the segment space.
        text_view_dims: components of the text view (review topics need more).
        use_behaviour, use_text: turn a modality off (ablations).
        text_weight, value_weight: weights of L_T and of the value term of L_B.
        max_epochs, patience: early stopping on validation loss.
        learning_rate, batch_size, weight_decay: optimiser settings ("auto" batch size:
            256, larger for very large training sets).
        random_state: seed; the same seed gives the same model.
    """

    def __init__(
        self,
        n_segments: int | str = "auto",
        min_share: float = 0.02,
        hidden: int = 64,
        embed_dim: int = 16,
        dropout: float = 0.1,
        use_behaviour: bool = True,
        use_text: bool = True,
        text_weight: float = 1.0,
        value_weight: float = 1.0,
        max_epochs: int = 200,
        patience: int = 15,
        learning_rate: float = 3e-3,
        batch_size: int | str = "auto",
        weight_decay: float = 1e-4,
        random_state: int = 0,
        view_dims: int = VIEW_DIMS,
        text_view_dims: int = TEXT_VIEW_DIMS,
    ) -> None:
        self.n_segments = n_segments
        self.min_share = min_share
        self.hidden = hidden
        self.embed_dim = embed_dim
        self.dropout = dropout
        self.use_behaviour = use_behaviour
        self.use_text = use_text
        self.text_weight = text_weight
        self.value_weight = value_weight
        self.max_epochs = max_epochs
        self.patience = patience
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.view_dims = view_dims
        self.text_view_dims = text_view_dims

    def get_params(self) -> dict:
        """Hyperparameters, as scikit-learn's get_params."""
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    # ----- preprocessing -------------------------------------------------------------

    def _fit_scaler(self, behaviour: np.ndarray) -> None:
        from scipy.stats import skew

        finite = np.nan_to_num(behaviour.astype(np.float64))
        varies = finite.std(axis=0) > 1e-9
        skewness = np.zeros(finite.shape[1])
        skewness[varies] = skew(finite[:, varies], axis=0)
        self.log_columns_ = (np.abs(skewness) > LOG_FEATURES_MIN_SKEW) & (finite.min(axis=0) >= 0)
        transformed = self._log(finite)
        self.feature_mean_ = transformed.mean(axis=0)
        self.feature_std_ = transformed.std(axis=0) + 1e-6
        # The range the network learnt from, one standard deviation wider on each side.
        self.feature_range_ = (
            (transformed.min(axis=0) - self.feature_mean_) / self.feature_std_ - RANGE_MARGIN,
            (transformed.max(axis=0) - self.feature_mean_) / self.feature_std_ + RANGE_MARGIN,
        )

    def _log(self, behaviour: np.ndarray) -> np.ndarray:
        out = np.nan_to_num(behaviour.astype(np.float64)).copy()
        out[:, self.log_columns_] = np.log1p(np.clip(out[:, self.log_columns_], 0, None))
        return out

    def scale(self, behaviour: np.ndarray) -> np.ndarray:
        """Behaviour features as the network sees them: log where skewed, standardised, and
        held near the range seen in training (a feature far outside it, z = 537 on one
        order log, would otherwise decide the segment alone)."""
        z = (self._log(behaviour) - self.feature_mean_) / self.feature_std_
        if self.feature_range_ is not None:  # None for models saved before it was kept
            z = np.clip(z, *self.feature_range_)
        return z.astype(np.float32)

    def _value_target(self, value: np.ndarray) -> np.ndarray:
        return ((np.log1p(value) - self.value_mean_) / self.value_std_).astype(np.float32)

    def _tensors(self, data: SegmenterData, rows: np.ndarray | None = None) -> dict:
        import torch

        rows = np.arange(len(data)) if rows is None else rows
        batch = {
            "behaviour": torch.from_numpy(self.scale(data.behaviour[rows])),
            "text": torch.from_numpy(data.text[rows].astype(np.float32)),
            "has_text": torch.from_numpy(data.has_text[rows].astype(np.float32)),
        }
        if data.churned is not None:
            batch["churned"] = torch.from_numpy(data.churned[rows].astype(np.float32))
            batch["value"] = torch.from_numpy(self._value_target(data.future_value[rows]))
            reviews = np.isin(data.review_owner, rows)
            batch["review_vectors"] = torch.from_numpy(
                data.review_vectors[reviews].astype(np.float32)
            )
            batch["review_ratings"] = torch.from_numpy(
                (data.review_ratings[reviews] - 1).astype(np.int64)
            )
        return batch

    # ----- fitting -------------------------------------------------------------------

    def _validate(self, data: SegmenterData) -> None:
        if data.churned is None or data.future_value is None:
            raise ValueError("fit needs labels: churned and future_value")
        if len(data) < 20:
            raise ValueError(f"fit needs at least 20 customers, got {len(data)}")
        if not (self.use_behaviour or self.use_text):
            raise ValueError("use_behaviour and use_text cannot both be False")
        if data.review_ratings.size and not np.isin(data.review_ratings, [1, 2, 3, 4, 5]).all():
            raise ValueError("review ratings must be whole stars 1-5")

    def fit(
        self,
        train: SegmenterData,
        validation: SegmenterData,
        on_epoch: Callable[[EpochLog], None] | None = None,
    ) -> FusionSegmenter:
        """Train on `train`, stop early on `validation` loss, place the segment prototypes."""
        import torch
        from segassist.training.model import FusionConfig, FusionNet

        self._validate(train)
        self._validate(validation)
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self._fit_scaler(train.behaviour)
        log_value = np.log1p(train.future_value)
        self.value_mean_, self.value_std_ = log_value.mean(), log_value.std() + 1e-6
        self.config_ = FusionConfig(
            n_behaviour=train.behaviour.shape[1],
            text_dim=train.text.shape[1],
            hidden=self.hidden,
            embed_dim=self.embed_dim,
            dropout=self.dropout,
            use_behaviour=self.use_behaviour,
            use_text=self.use_text,
            text_weight=self.text_weight,
            value_weight=self.value_weight,
        )
        self.network_ = FusionNet(self.config_)
        optimiser = torch.optim.AdamW(
            self.network_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        val_batch = self._tensors(validation)
        best, best_state, waited = float("inf"), None, 0
        self.history_: list[EpochLog] = []
        for epoch in range(1, self.max_epochs + 1):
            self.network_.train()
            losses = []
            for rows in np.array_split(
                rng.permutation(len(train)), max(1, len(train) // self._batch_size(len(train)))
            ):
                _, loss = self.network_(self._tensors(train, rows))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
            self.network_.eval()
            with torch.no_grad():
                outputs, val_loss = self.network_(val_batch)
            improved = val_loss.item() < best - 1e-4
            log = EpochLog(
                epoch,
                float(np.mean(losses)),
                val_loss.item(),
                outputs["loss_behaviour"].item(),
                outputs["loss_text"].item(),
                improved,
            )
            self.history_.append(log)
            if on_epoch:
                on_epoch(log)
            if improved:
                best, best_state, waited = (
                    val_loss.item(),
                    copy.deepcopy(self.network_.state_dict()),
                    0,
                )
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.network_.load_state_dict(best_state)
        self.network_.eval()
        self.best_val_loss_ = best
        self.epochs_ = len(self.history_)
        self.space_, found = self._segment_space(train)
        self._place_prototypes(self.transform(train), train.has_text, found)
        self._calibrate_value(train, validation)
        return self

    def _segment_space(self, train: SegmenterData):
        """The segment space, with `text_view_dims` text components where the text shows
        separated groups in them, else as many as behaviour gets: with no groups to
        find, the extra low-variance directions only made k-means on z unstable (Amazon
        reviews: seed-to-seed ARI 0.45 at 24 text components, 0.94 at 8). Also the
        groups found in the space kept, when it was searched (`Cells`, else None)."""
        from segassist.training.prototypes import find_cells

        def fit(text_dims: int) -> SegmentSpace:
            return SegmentSpace.fit(
                self.scale(train.behaviour),
                train.text,
                train.has_text,
                use_behaviour=self.use_behaviour,
                use_text=self.use_text,
                dims=self.view_dims,
                text_dims=text_dims,
            )

        space = fit(self.text_view_dims)
        if space.text is None or self.text_view_dims <= self.view_dims:
            return space, None
        z = space(self.scale(train.behaviour), train.text, train.has_text)
        found = find_cells(z, space.sources(train.has_text), self.min_share, self.random_state)
        return (space, found) if found.groups.get("text", 1) > 1 else (fit(self.view_dims), None)

    def _calibrate_value(self, train: SegmenterData, validation: SegmenterData) -> None:
        """Map the value head to money on the training and validation customers (isotonic
        regression; both, because a few very large buyers make one split's total swing).

        The head regresses log(1 + spend), so expm1 of it is a typical spend, well
        below the mean that sums to what customers really spend (0.17-0.48x on retail
        logs). An isotonic fit keeps the ranking and makes the sum match on the
        validation customers; it is kept as its breakpoints and applied by linear
        interpolation, clipped at both ends.
        """
        from sklearn.isotonic import IsotonicRegression

        raw = np.concatenate(
            [self._raw_value(self._forward(d)["value"]) for d in (train, validation)]
        )
        spent = np.concatenate([train.future_value, validation.future_value])
        fitted = IsotonicRegression(y_min=0.0, out_of_bounds="clip").fit(raw, spent)
        self.value_calibration_ = (
            fitted.X_thresholds_.astype(np.float64),
            fitted.y_thresholds_.astype(np.float64),
        )

    def _raw_value(self, head: np.ndarray) -> np.ndarray:
        return np.expm1(head * self.value_std_ + self.value_mean_).clip(min=0)

    def _batch_size(self, n_train: int) -> int:
        if self.batch_size != "auto":
            return int(self.batch_size)
        return 256 if n_train <= SMALL_TRAIN else min(4096, n_train // 512)

    def _place_prototypes(
        self, train_z: np.ndarray, has_text: np.ndarray | None = None, found=None
    ) -> None:
        """Prototypes where each source's own groups combine (`prototypes`):
        `n_segments` of them, or as many as the data shows; fewer when one would hold
        under `min_share` of the customers (a segment of 4 people cannot be targeted).
        `found`: the groups already found in `train_z`, when they were."""
        from segassist.training.prototypes import centres_from, find_cells

        space = getattr(self, "space_", None)
        sources = (
            space.sources(has_text)
            if space is not None and has_text is not None
            else [("behaviour", slice(0, train_z.shape[1]), np.ones(len(train_z), dtype=bool))]
        )

        def shares_of(centres: np.ndarray) -> np.ndarray:
            nearest = (centres**2).sum(axis=1) - 2 * train_z @ centres.T  # + |z|^2, same for all
            return np.bincount(nearest.argmin(axis=1), minlength=len(centres)) / len(train_z)

        if found is None:
            found = find_cells(train_z, sources, self.min_share, self.random_state)
        self.source_groups_ = found.groups
        k = self.n_segments
        while True:  # the groups are found once; only K shrinks
            centres, self.from_groups_ = centres_from(
                train_z, found, k, self.min_share, self.random_state
            )
            if len(centres) <= 2 or shares_of(centres).min() >= self.min_share:
                break
            k = len(centres) - 1
        if self.from_groups_ and found.groups.get("text", 1) > 1:
            train_z, centres = self._in_segment_units(train_z, has_text, centres)
        self.prototypes_ = centres.astype(np.float32)
        # Temperature: the mean squared distance to the nearest prototype, so
        # probabilities are neither all-or-nothing nor uniform.
        distances = self._squared_distances(train_z)
        self.temperature_ = float(distances.min(axis=1).mean()) + 1e-6

    def _in_segment_units(self, train_z: np.ndarray, has_text: np.ndarray, centres: np.ndarray):
        """Where the segments are the text's own groups, the text code measured in their
        spread (`SegmentSpace.in_segment_units`), re-estimated with the segments until
        they settle (classification EM with one shared covariance, at most
        SEGMENT_UNIT_ROUNDS rounds). Kept only if every segment still holds `min_share`
        of the customers; returns the customers' z and the prototypes in the space kept."""

        def nearest(z: np.ndarray, at: np.ndarray) -> np.ndarray:
            return ((at**2).sum(axis=1) - 2 * z @ at.T).argmin(axis=1)

        base, k = self.space_, len(centres)
        columns = base.text_columns(has_text)
        labels = nearest(train_z, centres)
        for _ in range(SEGMENT_UNIT_ROUNDS):
            space, whiten = base.in_segment_units(train_z, labels, has_text)
            z = train_z.copy()
            z[:, columns] = train_z[:, columns] @ whiten
            counts = np.bincount(labels, minlength=k)
            if counts.min() == 0:
                return train_z, centres
            moved = np.stack([z[labels == c].mean(axis=0) for c in range(k)])
            settled = nearest(z, moved)
            if (settled == labels).all():
                break
            labels = settled
        if np.bincount(settled, minlength=k).min() < self.min_share * len(z):
            return train_z, centres
        self.space_ = space
        return z, np.stack([z[settled == c].mean(axis=0) for c in range(k)])

    # ----- prediction ----------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise RuntimeError("This FusionSegmenter is not fitted yet. Call 'fit' first.")

    def _check_text_width(self, data: SegmenterData) -> None:
        self._check_fitted()
        expected = self.network_.config.text_dim
        if data.text.shape[1] != expected:
            raise UserInputError(
                f"This model was trained on text vectors of dimension {expected}, but the "
                f"review index gives {data.text.shape[1]} (another embedding model). Retrain "
                "with 'segassist train', or rebuild the index with the model's embedder."
            )

    def _forward(self, data: SegmenterData, chunk: int = PREDICT_CHUNK) -> dict[str, np.ndarray]:
        """Network outputs for every customer, in chunks so memory stays bounded."""
        import torch

        self._check_text_width(data)
        unlabelled = SegmenterData(data.customer_ids, data.behaviour, data.text, data.has_text)
        parts: dict[str, list[np.ndarray]] = {}
        with torch.no_grad():
            for start in range(0, len(data), chunk):
                rows = np.arange(start, min(start + chunk, len(data)))
                outputs, _ = self.network_(self._tensors(unlabelled, rows))
                for key, value in outputs.items():
                    parts.setdefault(key, []).append(value.numpy())
        return {key: np.concatenate(values) for key, values in parts.items()}

    def transform(self, data: SegmenterData) -> np.ndarray:
        """Customers in the segment space z (n, view_dims per source); models saved before
        the segment space existed use the network's embedding."""
        self._check_text_width(data)
        if getattr(self, "space_", None) is None:
            return self._forward(data)["embedding"]
        return self.space_(self.scale(data.behaviour), data.text, data.has_text)

    def _squared_distances(self, z: np.ndarray) -> np.ndarray:
        return ((z[:, None, :] - self.prototypes_[None, :, :]) ** 2).sum(axis=2)

    def membership(self, z: np.ndarray) -> np.ndarray:
        """Soft segment membership (n, K) of fused embeddings."""
        logits = -self._squared_distances(z) / self.temperature_
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def predict_proba(self, data: SegmenterData) -> np.ndarray:
        """Segment membership probabilities (n, K)."""
        return self.membership(self.transform(data))

    def predict(self, data: SegmenterData) -> np.ndarray:
        """The most likely segment of each customer."""
        return self.predict_proba(data).argmax(axis=1)

    def predict_traits(self, data: SegmenterData) -> dict[str, np.ndarray]:
        """Churn risk (0-1) and expected value in the horizon (in the label's unit: spend,
        or orders where the data has no prices) per customer."""
        outputs = self._forward(data)
        churn = 1 / (1 + np.exp(-outputs["churn_logit"]))
        value = self._raw_value(outputs["value"])
        calibration = getattr(self, "value_calibration_", None)
        if calibration is not None:  # models saved before calibration give the raw value
            value = np.interp(value, calibration[0], calibration[1])
        space = getattr(self, "space_", None)
        embedding = outputs["embedding"] if space is None else self.transform(data)
        return {"churn_risk": churn, "value_estimate": value, "embedding": embedding}

    def loss(self, data: SegmenterData) -> float:
        """The training loss L = L_B + text_weight * L_T on labelled `data`."""
        import torch

        self._check_fitted()
        with torch.no_grad():
            _, loss = self.network_(self._tensors(data))
        return float(loss)

    def target_loss(self, data: SegmenterData) -> float:
        """L without the text reconstruction on labelled `data`: churn, value, behaviour
        reconstruction and review ratings. Unlike `loss`, comparable between models fed
        by different text encoders (each reconstructs its own encoder's vectors)."""
        import torch

        self._check_fitted()
        with torch.no_grad():
            outputs, _ = self.network_(self._tensors(data))
        text = self.config_.text_weight * outputs["loss_rating"]
        return float(outputs["loss_behaviour"] + text)

    @property
    def n_segments_(self) -> int:
        """Number of segments after fitting."""
        return len(self.prototypes_)

    # ----- persistence ---------------------------------------------------------------

    def state(self) -> dict:
        """Everything needed to rebuild the fitted estimator (for torch.save)."""
        self._check_fitted()
        return {
            "params": self.get_params(),
            "config": self.config_.to_dict(),
            "network": self.network_.state_dict(),
            "log_columns": self.log_columns_,
            "feature_mean": self.feature_mean_,
            "feature_std": self.feature_std_,
            "feature_range": self.feature_range_,
            "value_mean": self.value_mean_,
            "value_std": self.value_std_,
            "prototypes": self.prototypes_,
            "temperature": self.temperature_,
            "best_val_loss": self.best_val_loss_,
            "epochs": self.epochs_,
            "value_calibration": getattr(self, "value_calibration_", None),
            "space": None if self.space_ is None else self.space_.state(),
            "source_groups": getattr(self, "source_groups_", {}),
            "from_groups": getattr(self, "from_groups_", False),
        }

    @classmethod
    def from_state(cls, state: dict) -> FusionSegmenter:
        """Rebuild a fitted estimator from `state()`."""
        from segassist.training.model import FusionConfig, FusionNet

        segmenter = cls(**state["params"])
        segmenter.config_ = FusionConfig(**state["config"])
        segmenter.network_ = FusionNet(segmenter.config_)
        segmenter.network_.load_state_dict(state["network"])
        segmenter.network_.eval()
        for key in (
            "log_columns",
            "feature_mean",
            "feature_std",
            "value_mean",
            "value_std",
            "prototypes",
            "temperature",
            "best_val_loss",
            "epochs",
        ):
            setattr(segmenter, key + "_", state[key])
        segmenter.value_calibration_ = state.get("value_calibration")
        segmenter.feature_range_ = state.get("feature_range")
        space = state.get("space")
        segmenter.space_ = None if space is None else SegmentSpace.from_state(space)
        segmenter.source_groups_ = state.get("source_groups", {})
        segmenter.from_groups_ = state.get("from_groups", False)
        return segmenter
