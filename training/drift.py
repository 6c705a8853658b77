"""Drift: are the customers scored now described by features like those the model learnt?

At training, each feature's distribution is kept as decile bins (`reference`);
at scoring and in `segassist drift`, today's features are binned the same way
and compared with the Population Stability Index,
PSI = sum((now - then) * ln(now / then)) over the bins. The usual reading:
below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a shift large enough
that the model is scoring customers unlike those it learnt from: retrain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MODERATE = 0.1
LARGE = 0.25
_FLOOR = 1e-4  # an empty bin's share, so the logarithm stays finite


def reference(features: pd.DataFrame) -> dict[str, dict]:
    """Each feature's decile edges and the share of customers in each bin."""
    kept = {}
    for name in features.columns:
        values = features[name].to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9)))
        kept[name] = {
            "edges": [float(e) for e in edges],
            "shares": _shares(values, edges).round(6).tolist(),
            "mean": float(values.mean()),
        }
    return kept


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(edges, values, side="right")
    return np.bincount(bins, minlength=len(edges) + 1) / max(len(values), 1)


def psi(kept: dict, values: np.ndarray) -> float:
    """Population Stability Index of `values` against a feature's kept reference."""
    then = np.maximum(np.asarray(kept["shares"], dtype=float), _FLOOR)
    now = np.maximum(_shares(values, np.asarray(kept["edges"], dtype=float)), _FLOOR)
    return float(((now - then) * np.log(now / then)).sum())


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    mean_then: float
    mean_now: float

    @property
    def level(self) -> str:
        if self.psi >= LARGE:
            return "large"
        return "moderate" if self.psi >= MODERATE else "stable"


@dataclass
class DriftReport:
    """Every feature's drift from training to now, largest first."""

    version: str
    trained_cutoff: str
    scored_cutoff: str
    features: list[FeatureDrift] = field(default_factory=list)
    missing_reference: bool = False

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.level == "large"]

    def warning(self) -> str | None:
        """One line naming the drifted features, or None."""
        if self.missing_reference:
            return (
                f"model {self.version} was trained before drift checks were kept; "
                "retrain ('segassist train') to check scoring against training."
            )
        if not self.drifted:
            return None
        names = ", ".join(f"{f.feature} (PSI {f.psi:.2f})" for f in self.drifted[:6])
        more = f" and {len(self.drifted) - 6} more" if len(self.drifted) > 6 else ""
        return (
            f"warning: {len(self.drifted)} features have drifted since training: {names}{more}. "
            "Scores for these customers are less reliable; run 'segassist drift' for details."
        )

    def recommendation(self) -> str:
        if self.missing_reference:
            return "Retrain: this model has no training distributions to compare with."
        if self.drifted:
            return (
                f"Retrain ('segassist train'): {len(self.drifted)} of {len(self.features)} "
                f"features shifted by more than PSI {LARGE} since the model's data "
                f"(cutoff {self.trained_cutoff})."
            )
        moderate = [f for f in self.features if f.level == "moderate"]
        if moderate:
            return (
                f"No retrain needed yet: {len(moderate)} features shifted moderately "
                f"(PSI {MODERATE}-{LARGE}); check again after the next import."
            )
        return "No retrain needed: every feature is distributed as in training."

    def lines(self) -> list[str]:
        head = (
            f"model {self.version}: features at {self.scored_cutoff} against training "
            f"(cutoff {self.trained_cutoff})"
        )
        rows = [f"{'feature':<28} {'PSI':>6}  {'level':<9} {'mean then':>11} {'mean now':>11}"]
        rows += [
            f"{f.feature:<28} {f.psi:>6.3f}  {f.level:<9} {f.mean_then:>11,.3f} "
            f"{f.mean_now:>11,.3f}"
            for f in self.features
        ]
        return [head, *rows, self.recommendation()]


def compare(
    kept: dict | None, features: pd.DataFrame, version: str, trained: str, scored: str
) -> DriftReport:
    """Today's `features` against the model's kept reference."""
    report = DriftReport(version, trained, scored, missing_reference=not kept)
    for name, reference_bins in (kept or {}).items():
        if name not in features:
            continue
        values = features[name].to_numpy(dtype=float)
        report.features.append(
            FeatureDrift(
                name,
                round(psi(reference_bins, values), 4),
                round(float(reference_bins.get("mean", float("nan"))), 4),
                round(float(values.mean()), 4) if len(values) else float("nan"),
            )
        )
    report.features.sort(key=lambda f: -f.psi)
    return report
