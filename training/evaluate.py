"""`segassist evaluate`: the segmenter against strong simple baselines, in one run.

Methods, all fitted on the same training customers and scored on the same
test customers:

- ``rfm``: classic RFM quintile segments (Champions, Loyal, New, At risk,
  Hibernating, Others); a segment's churn risk and value are its training
  customers' churn rate and mean value;
- ``kmeans-behaviour``: k-means on the scaled behaviour features;
- ``kmeans-text``: k-means on the review vectors (customers without text form
  their own segment);
- ``concat-kmeans``: k-means on the scaled behaviour features next to 8
  standardised SVD components of the text vectors: the naive fusion the model
  must beat;
- ``fusion``: the model; ``fusion-behaviour`` and ``fusion-text``: the model
  with one modality only;
- with ``--tune-text``, ``fusion+lora`` and ``fusion-text+lora``: the same on
  review vectors from an encoder LoRA-tuned on the training customers' reviews,
  and a report section comparing the two encoders (stars, churn, value, time).

Metrics: churn ROC-AUC and PR-AUC, future-value Spearman, silhouette of the
segments in each method's own space, stability (mean ARI between the test
customers' segments across seeds), segment sizes, and ARI against the ground
truth on synthetic data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
from segassist.training.dataset import Splits, build_data, split_by_customer
from segassist.training.fairness import Composition, check_features, composition
from segassist.training.features import FeatureSet, Window, compute_features, default_window
from segassist.training.prototypes import groups_sentence, silhouette
from segassist.training.segmenter import FusionSegmenter
from segassist.training.text_tuning import (
    DEFAULT_MAX_REVIEWS,
    RANK,
    TARGETS,
    EncoderComparison,
    check_tunable,
    star_probe,
    tune_on_customers,
)
from segassist.warehouse.queries import synthetic_segments
from sqlalchemy import Engine

SEEDS = (0, 1, 2)
RFM_NAMES = ("Champions", "Loyal", "New", "At risk", "Hibernating", "Others")


@dataclass
class MethodResult:
    """One method's figures on the test customers."""

    name: str
    churn_roc_auc: float
    churn_pr_auc: float
    value_spearman: float
    silhouette: float
    stability_ari: float
    sizes: list[int]
    truth_ari: float | None = None
    segments: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)
    value_sum_ratio: float = float("nan")  # predicted total over actual total
    value_pred: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)


def _scores(churned, value, churn_pred, value_pred) -> tuple[float, float, float]:
    from scipy.stats import spearmanr
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not 0 < churned.sum() < len(churned):
        return float("nan"), float("nan"), float("nan")
    return (
        float(roc_auc_score(churned, churn_pred)),
        float(average_precision_score(churned, churn_pred)),
        float(spearmanr(value, value_pred).statistic),
    )


def _value_ratio(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum(actual))
    return float(np.sum(predicted)) / total if total > 0 else float("nan")


def _stability(assignments: list[np.ndarray]) -> float:
    from sklearn.metrics import adjusted_rand_score

    pairs = [adjusted_rand_score(a, b) for a, b in combinations(assignments, 2)]
    return float(np.mean(pairs)) if pairs else float("nan")


def _segment_means(train_segments, test_segments, train_values) -> np.ndarray:
    overall = float(np.mean(train_values))
    means = {s: float(train_values[train_segments == s].mean()) for s in set(train_segments)}
    return np.array([means.get(s, overall) for s in test_segments])


def _segment_baseline(name, splits: Splits, fit_predict, space_of) -> MethodResult:
    """A method that only assigns segments: traits are its segments' training rates."""
    runs = [fit_predict(splits, seed) for seed in SEEDS]
    train_seg, test_seg = runs[0]
    churn = _segment_means(train_seg, test_seg, splits.train.churned)
    value = _segment_means(train_seg, test_seg, splits.train.future_value)
    auc, pr, rho = _scores(splits.test.churned, splits.test.future_value, churn, value)
    return MethodResult(
        name,
        auc,
        pr,
        rho,
        silhouette(space_of(splits.test), test_seg),
        _stability([t for _, t in runs]),
        np.bincount(test_seg).tolist(),
        segments=test_seg,
        value_sum_ratio=_value_ratio(splits.test.future_value, value),
        value_pred=value,
    )


def _rfm_cells(data, rfm_columns: tuple[int, int, int], edges=None):
    recency, frequency, monetary = (data.behaviour[:, i] for i in rfm_columns)
    if not monetary.any():  # no prices (Amazon): frequency stands in for monetary
        monetary = frequency
    columns = np.column_stack([-recency, frequency, monetary])
    if edges is None:
        edges = [np.unique(np.quantile(c, [0.2, 0.4, 0.6, 0.8])) for c in columns.T]
    scores = np.column_stack(
        [np.searchsorted(e, c, side="right") + 1 for e, c in zip(edges, columns.T, strict=True)]
    )
    return scores, edges


def _rfm_segments(scores: np.ndarray) -> np.ndarray:
    r, f = scores[:, 0], scores[:, 1]
    segments = np.full(len(scores), 5)  # Others
    segments[(r <= 2) & (f <= 2)] = 4  # Hibernating
    segments[(r <= 2) & (f >= 3)] = 3  # At risk
    segments[(r >= 4) & (f <= 2)] = 2  # New
    segments[f >= 4] = 1  # Loyal
    segments[(r >= 4) & (f >= 4)] = 0  # Champions
    return segments


def _rfm(rfm_columns: tuple[int, int, int]):
    def fit_predict(splits: Splits, seed: int):
        train_scores, edges = _rfm_cells(splits.train, rfm_columns)
        test_scores, _ = _rfm_cells(splits.test, rfm_columns, edges)
        return _rfm_segments(train_scores), _rfm_segments(test_scores)

    return fit_predict


def _kmeans_on(space_of, k: int):
    def fit_predict(splits: Splits, seed: int):
        from sklearn.cluster import KMeans

        model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(space_of(splits.train))
        return model.labels_, model.predict(space_of(splits.test))

    return fit_predict


def _kmeans_text(k: int):
    def fit_predict(splits: Splits, seed: int):
        from sklearn.cluster import KMeans

        has = splits.train.has_text > 0
        if has.sum() < k:
            return np.zeros(len(splits.train), int), np.zeros(len(splits.test), int)
        model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(splits.train.text[has])
        train = np.where(has, model.predict(splits.train.text), k)
        test = np.where(splits.test.has_text > 0, model.predict(splits.test.text), k)
        return train, test

    return fit_predict


def _concatenated(splits: Splits, scaled, text_dims: int = 8):
    """The naive fusion a data scientist tries first: standardised behaviour features next
    to a few standardised SVD components of the text vectors (zeros without text)."""
    from sklearn.decomposition import TruncatedSVD

    has = splits.train.has_text > 0
    svd = TruncatedSVD(min(text_dims, splits.train.text.shape[1] - 1), random_state=0)
    svd.fit(splits.train.text[has])
    fitted = svd.transform(splits.train.text[has])
    mean, std = fitted.mean(axis=0), fitted.std(axis=0) + 1e-9

    def space_of(data):
        text = (svd.transform(data.text) - mean) / std
        return np.hstack([scaled(data), np.where(data.has_text[:, None] > 0, text, 0.0)])

    return space_of


def _fusion(name: str, splits: Splits, params: dict) -> tuple[MethodResult, FusionSegmenter]:
    models = [
        FusionSegmenter(random_state=s, **params).fit(splits.train, splits.validation)
        for s in SEEDS
    ]
    first = models[0]
    traits = first.predict_traits(splits.test)
    segments = first.membership(traits["embedding"]).argmax(axis=1)
    auc, pr, rho = _scores(
        splits.test.churned,
        splits.test.future_value,
        traits["churn_risk"],
        traits["value_estimate"],
    )
    result = MethodResult(
        name,
        auc,
        pr,
        rho,
        silhouette(traits["embedding"], segments),
        _stability([m.predict(splits.test) for m in models]),
        np.bincount(segments, minlength=first.n_segments_).tolist(),
        segments=segments,
        value_sum_ratio=_value_ratio(splits.test.future_value, traits["value_estimate"]),
        value_pred=traits["value_estimate"],
    )
    return result, first


def _bgnbd(splits: Splits, features: FeatureSet, horizon_days: int) -> MethodResult | str:
    """BG/NBD + Gamma-Gamma fitted on the training customers, scored on the test ones (the
    reason as text when it cannot be fitted on this data)."""
    from segassist.training.clv import Summary, churn_and_value

    names = features.feature_names
    try:
        churn, value = churn_and_value(
            Summary.of(splits.train.behaviour, names),
            Summary.of(splits.test.behaviour, names),
            horizon_days,
            priced=features.value_unit == "spend",
        )
    except Exception as e:  # lifetimes raises its own ConvergenceError and ValueErrors
        reason = (str(e).strip().splitlines() or [""])[0]  # lifetimes' messages run on
        return f"BG/NBD could not be fitted on this data ({type(e).__name__}: {reason})"
    auc, pr, rho = _scores(splits.test.churned, splits.test.future_value, churn, value)
    return MethodResult(
        "bg-nbd",
        auc,
        pr,
        rho,
        float("nan"),
        float("nan"),
        [],
        value_sum_ratio=_value_ratio(splits.test.future_value, value),
        value_pred=value,
    )


@dataclass
class Evaluation:
    """Everything the report shows."""

    window: Window
    features: FeatureSet
    splits: Splits
    results: list[MethodResult]
    model: FusionSegmenter
    text_available: bool
    composition: list[Composition] = field(default_factory=list)  # fusion's test segments
    notes: list[str] = field(default_factory=list)  # baselines that could not run, and why
    encoders: EncoderComparison | None = None  # with --tune-text: frozen vs LoRA vectors

    def result(self, name: str) -> MethodResult:
        """The figures of one method."""
        return next(r for r in self.results if r.name == name)


def evaluate(
    engine: Engine,
    *,
    index=None,
    window: Window | None = None,
    n_segments: int | str = "auto",
    tune_text: bool = False,
    tune_reviews: int = DEFAULT_MAX_REVIEWS,
) -> Evaluation:
    """Fit every method on the same split and score it on the same test customers; with
    `tune_text`, also the fusion on LoRA-tuned review vectors."""
    if tune_text:
        check_tunable(index.model if index else None)
    window = window or default_window(engine)
    features = compute_features(engine, window)
    check_features(features.feature_names)
    data = build_data(features, index)
    splits = split_by_customer(data, seed=0)
    started = time.perf_counter()
    fusion, model = _fusion("fusion", splits, {"n_segments": n_segments})
    fit_seconds = (time.perf_counter() - started) / len(SEEDS)
    k = model.n_segments_

    def scaled(d):
        return model.scale(d.behaviour)

    text_available = bool(data.has_text.sum())
    rfm_columns = tuple(
        features.feature_names.index(n) for n in ("recency_days", "n_orders", "monetary")
    )
    results = [
        _segment_baseline(
            "rfm",
            splits,
            _rfm(rfm_columns),
            lambda d: _rfm_cells(d, rfm_columns)[0].astype(float),
        ),
        _segment_baseline("kmeans-behaviour", splits, _kmeans_on(scaled, k), scaled),
        fusion,
        _fusion("fusion-behaviour", splits, {"n_segments": k, "use_text": False})[0],
    ]
    if text_available:
        results.insert(
            2, _segment_baseline("kmeans-text", splits, _kmeans_text(k), lambda d: d.text)
        )
        results.append(_fusion("fusion-text", splits, {"n_segments": k, "use_behaviour": False})[0])
        concatenated = _concatenated(splits, scaled)
        results.insert(
            3,
            _segment_baseline("concat-kmeans", splits, _kmeans_on(concatenated, k), concatenated),
        )
    notes = []
    clv = _bgnbd(splits, features, window.horizon_days)
    if isinstance(clv, str):
        notes.append(clv)
    else:
        results.insert(1, clv)
    truth = synthetic_segments(engine, splits.test.customer_ids)
    if truth is not None:
        from sklearn.metrics import adjusted_rand_score

        for result in results:
            if len(result.segments):  # BG/NBD predicts, it does not segment
                result.truth_ari = float(adjusted_rand_score(truth, result.segments))
    made_of = [
        composition(engine, splits.test.customer_ids, fusion.segments, attribute)
        for attribute in ("country", "language")
    ]
    encoders = None
    if tune_text:
        tuned, encoders = _with_tuned_text(features, index, splits, k, tune_reviews, fit_seconds)
        results += tuned
    return Evaluation(
        window, features, splits, results, model, text_available, made_of, notes, encoders
    )


def _with_tuned_text(features, index, splits: Splits, k: int, reviews: int, fit_seconds: float):
    """The fusion and its text-only ablation again, on vectors from an encoder LoRA-tuned
    on the training customers' reviews; the same customers in every split."""
    encoder = tune_on_customers(index, features.window.cutoff, splits.train, max_reviews=reviews)
    started = time.perf_counter()
    tuned = split_by_customer(build_data(features, index, encoder=encoder), seed=0)
    embed_seconds = time.perf_counter() - started
    results = [
        _fusion("fusion+lora", tuned, {"n_segments": k})[0],
        _fusion("fusion-text+lora", tuned, {"n_segments": k, "use_behaviour": False})[0],
    ]
    comparison = EncoderComparison(
        encoder.log,
        embed_seconds,
        fit_seconds,
        star_probe(splits.train, splits.test),
        star_probe(tuned.train, tuned.test),
    )
    return results, comparison


def encoder_lines(evaluation: Evaluation, margin: float = 0.01) -> list[str]:
    """The report's frozen-vs-LoRA section (empty without --tune-text)."""
    c = evaluation.encoders
    if c is None:
        return []
    e = evaluation
    pairs = [
        ("frozen", c.stars_frozen, e.result("fusion"), e.result("fusion-text")),
        ("LoRA-tuned", c.stars_tuned, e.result("fusion+lora"), e.result("fusion-text+lora")),
    ]
    gains = (
        pairs[1][2].churn_roc_auc - pairs[0][2].churn_roc_auc,
        pairs[1][2].value_spearman - pairs[0][2].value_spearman,
    )
    helps = max(gains) > margin and min(gains) > -margin
    verdict = (
        "LoRA helps the fusion here: train with `--tune-text` on this data."
        if helps
        else "LoRA does not help here: keep the frozen vectors (the default)."
    )
    text_gains = (
        pairs[1][3].churn_roc_auc - pairs[0][3].churn_roc_auc,
        pairs[1][3].value_spearman - pairs[0][3].value_spearman,
    )
    if min(text_gains) < -margin:
        verdict += (
            f" Alone, the tuned text predicts worse (churn ROC-AUC {text_gains[0]:+.3f}, value "
            f"Spearman {text_gains[1]:+.3f}): tuning on stars kept less of the rest of what "
            "customers write."
        )
    return [
        "## Review encoder: frozen vs LoRA-tuned",
        "",
        f"LoRA (rank {RANK} on {', '.join(TARGETS)}) tuned on {c.log.reviews} reviews of the "
        f"training customers in {c.log.seconds:.0f} s ({c.log.steps} steps, loss "
        f"{c.log.first_loss:.3f} -> {c.log.last_loss:.3f}); embedding every text again took "
        f"{c.embed_seconds:.0f} s; one fusion fit on frozen vectors takes {c.fit_seconds:.0f} s."
        " Test customers only:",
        "",
        "| review vectors | stars macro-F1 (linear probe) | fusion churn ROC-AUC "
        "| fusion value Spearman | text-only churn ROC-AUC | text-only value Spearman |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {_figure(stars)} | {_figure(fused.churn_roc_auc)} | "
            f"{_figure(fused.value_spearman)} | {_figure(text.churn_roc_auc)} | "
            f"{_figure(text.value_spearman)} |"
            for name, stars, fused, text in pairs
        ],
        "",
        f"**{verdict}** (fusion churn ROC-AUC {gains[0]:+.3f}, value Spearman {gains[1]:+.3f}.)",
        "",
    ]


def text_verdict(evaluation: Evaluation, margin: float = 0.01) -> str:
    """One sentence on whether review text helped on this data set."""
    if not evaluation.text_available:
        return (
            "This data set has no review text: the model ran on behaviour only, so text "
            "could not help."
        )
    fused, behaviour = evaluation.result("fusion"), evaluation.result("fusion-behaviour")
    gain_auc = fused.churn_roc_auc - behaviour.churn_roc_auc
    gain_rho = fused.value_spearman - behaviour.value_spearman
    truth = ""
    if fused.truth_ari is not None:
        gain_ari = fused.truth_ari - behaviour.truth_ari
        verb = "recovers the true segments better" if gain_ari > margin else "does not help recover"
        naive = evaluation.result("concat-kmeans").truth_ari
        against = "beats" if fused.truth_ari > naive + margin else "does not beat"
        truth = (
            f" For segments, text {verb} (ARI vs truth {gain_ari:+.3f}), and the fusion "
            f"{against} k-means on the concatenated sources (ARI {fused.truth_ari:.3f} vs "
            f"{naive:.3f})."
        )
    if gain_auc > margin or gain_rho > margin:
        return (
            f"Text helps prediction here: fusion vs behaviour-only churn ROC-AUC "
            f"{gain_auc:+.3f}, value Spearman {gain_rho:+.3f}.{truth}"
        )
    return (
        f"Text adds nothing to prediction here: fusion vs behaviour-only churn ROC-AUC "
        f"{gain_auc:+.3f}, value Spearman {gain_rho:+.3f} (within {margin} or worse); the "
        f"behaviour-only model predicts as well.{truth}"
    )


def write_report(evaluation: Evaluation, out_dir: Path, title: str) -> Path:
    """Markdown report with PNG plots; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(evaluation, out_dir)
    e = evaluation
    has_truth = any(r.truth_ari is not None for r in e.results)
    header = (
        "| method | churn ROC-AUC | churn PR-AUC | value Spearman | value total / actual "
        "| silhouette | stability ARI | sizes |"
    )
    rule = "|---|---|---|---|---|---|---|---|"
    if has_truth:
        header += " ARI vs truth |"
        rule += "---|"
    rows = []
    for r in e.results:
        row = (
            f"| {r.name} | {_figure(r.churn_roc_auc)} | {_figure(r.churn_pr_auc)} | "
            f"{_figure(r.value_spearman)} | {_figure(r.value_sum_ratio, 'x')} | "
            f"{_figure(r.silhouette)} | {_figure(r.stability_ari)} | "
            f"{', '.join(map(str, r.sizes)) or '–'} |"
        )
        if has_truth:
            row += f" {_figure(r.truth_ari)} |"
        rows.append(row)
    churn_rate = e.features.frame["churned"].mean()
    lines = [
        f"# Segmenter evaluation: {title}",
        "",
        f"Features as of {e.window.cutoff:%Y-%m-%d}; labels over the next {e.window.horizon_days} "
        f"days (churn = no order in that window, {churn_rate:.0%} of customers; future value "
        f"in {e.features.value_unit}). Customers: {len(e.splits.train)} train, "
        f"{len(e.splits.validation)} validation, {len(e.splits.test)} test (split by customer). "
        f"Segments: {e.model.n_segments_} (fusion's choice, used for every k-means). "
        f"Stability: mean ARI over seeds {SEEDS}.",
        "",
        header,
        rule,
        *rows,
        "",
        f"**{text_verdict(e)}**",
        "",
        *value_lines(e),
        *encoder_lines(e),
        *[f"*{note}*\n" for note in e.notes],
        "Where the segments come from: "
        + groups_sentence(
            getattr(e.model, "source_groups_", {}),
            e.model.n_segments_,
            getattr(e.model, "from_groups_", False),
        ),
        "",
        "## Who is in each segment (bias check)",
        "",
        "No feature is a sensitive attribute (checked at training: "
        "`training/fairness.py`). Segment make-up of the test customers by country and by "
        "review language, against all test customers:",
        "",
        *[line for c in e.composition for line in _composition_lines(c)],
        *[f"![{name}]({path.name})" for name, path in plots.items()],
        "",
    ]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report


def _figure(value: float | None, unit: str = "") -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}{unit}"


def value_deciles(actual: np.ndarray, predicted: np.ndarray, n: int = 10) -> np.ndarray:
    """(n, 2): mean predicted and mean actual value of the customers in each decile of the
    prediction (lowest first)."""
    order = np.argsort(predicted, kind="stable")
    groups = np.array_split(order, n)
    return np.array([[predicted[g].mean(), actual[g].mean()] for g in groups if len(g)])


def value_lines(evaluation: Evaluation) -> list[str]:
    """The report's paragraph on value in money: each predictor's total against what the
    test customers spent, and the fusion's and BG/NBD's deciles side by side."""
    e = evaluation
    unit = "spend" if e.features.value_unit == "spend" else "orders"
    actual = e.splits.test.future_value
    predictors = [r for r in e.results if r.name in ("fusion", "bg-nbd")]
    totals = ", ".join(f"{r.name} {_figure(r.value_sum_ratio, 'x')}" for r in predictors)
    lines = [
        "## Value in money",
        "",
        f"Expected {unit} in the {e.window.horizon_days} days after the cutoff, summed over the "
        f"test customers, over what they actually {'spent' if unit == 'spend' else 'ordered'} "
        f"({actual.sum():,.2f}): {totals} (within 0.85-1.15x is calibrated).",
        "",
        "| predicted decile | "
        + " | ".join(f"{r.name} predicted" for r in predictors)
        + " | "
        + " | ".join(f"actual ({r.name} deciles)" for r in predictors)
        + " |",
        "|---" * (1 + 2 * len(predictors)) + "|",
    ]
    tables = [value_deciles(actual, r.value_pred) for r in predictors]
    for decile in range(min(len(t) for t in tables)):
        cells = [f"{t[decile, 0]:,.2f}" for t in tables] + [f"{t[decile, 1]:,.2f}" for t in tables]
        lines.append(f"| {decile + 1} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _composition_lines(made_of: Composition) -> list[str]:
    shares = made_of.shares
    header = f"| segment | {' | '.join(map(str, shares.columns))} |"
    rule = "|---" * (len(shares.columns) + 1) + "|"
    rows = [
        f"| {index} | {' | '.join(f'{v:.0%}' for v in row)} |"
        for index, row in zip(shares.index, shares.to_numpy(), strict=True)
    ]
    return [f"**{made_of.sentence()}**", "", header, rule, *rows, ""]


def _plots(evaluation: Evaluation, out_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    paths = {}
    names = [r.name for r in evaluation.results]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, label in zip(
        axes,
        ("churn_roc_auc", "value_spearman"),
        ("churn ROC-AUC", "future-value Spearman"),
        strict=True,
    ):
        values = [getattr(r, metric) for r in evaluation.results]
        shown = [v if np.isfinite(v) else 0.0 for v in values]
        ax.barh(
            names, shown, color=["#4c72b0" if n.startswith("fusion") else "#999999" for n in names]
        )
        ax.set_xlabel(label)
        ax.set_xlim(0, 1)
        for y, v in enumerate(values):
            ax.text(
                max(v, 0) + 0.01 if np.isfinite(v) else 0.01, y, _figure(v), va="center", fontsize=8
            )
    fig.suptitle("Test customers: fusion model (blue) vs baselines")
    fig.tight_layout()
    paths["metrics"] = out_dir / "metrics.png"
    fig.savefig(paths["metrics"], dpi=110)
    plt.close(fig)

    fused = evaluation.result("fusion")
    z = evaluation.model.transform(evaluation.splits.test)
    xy = PCA(n_components=2, random_state=0).fit_transform(z)
    fig, ax = plt.subplots(figsize=(6, 5))
    scatter = ax.scatter(xy[:, 0], xy[:, 1], c=fused.segments, cmap="tab10", s=8)
    ax.legend(*scatter.legend_elements(), title="segment", fontsize=8)
    ax.set_title("Test customers in the fused space (PCA)")
    fig.tight_layout()
    paths["map"] = out_dir / "segments_map.png"
    fig.savefig(paths["map"], dpi=110)
    plt.close(fig)

    actual = evaluation.splits.test.future_value
    fig, ax = plt.subplots(figsize=(6, 4))
    for result, colour in zip(
        [r for r in evaluation.results if r.name in ("fusion", "bg-nbd")],
        ("#4c72b0", "#dd8452"),
        strict=False,
    ):
        table = value_deciles(actual, result.value_pred)
        deciles = np.arange(1, len(table) + 1)
        ax.plot(deciles, table[:, 0], "--", color=colour, label=f"{result.name} predicted")
        ax.plot(deciles, table[:, 1], "o-", color=colour, label=f"actual ({result.name} deciles)")
    ax.set_xlabel("decile of predicted value (1 = lowest)")
    ax.set_ylabel(f"mean {evaluation.features.value_unit} per customer")
    ax.set_title("Predicted vs actual value by decile (test customers)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths["value"] = out_dir / "value_deciles.png"
    fig.savefig(paths["value"], dpi=110)
    plt.close(fig)
    return paths
