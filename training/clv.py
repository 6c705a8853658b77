"""BG/NBD + Gamma-Gamma: the CRM analyst's model of churn and value, as a baseline.

BG/NBD (Fader, Hardie and Lee, 2005) models each customer's purchases as a
Poisson process that may stop after any purchase; Gamma-Gamma models the spend
per order. Together they give the expected number of orders and the expected
spend in the next `horizon_days`, from four numbers per customer that the
segmenter's features already hold: orders, recency, tenure and spend before the
cutoff. The fitting is the `lifetimes` library's (not hand-written); only the
summary is computed here, because lifetimes' own summary helper predates the
pandas in use.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np

PENALIZER = 0.001  # a small L2 on the parameters: the fit is unstable without it
MAX_FIT_CUSTOMERS = 50_000  # the likelihood is evaluated per customer; a sample is enough


@dataclass
class Summary:
    """The BG/NBD inputs of each customer, in days (lifetimes' x, t_x, T and m)."""

    frequency: np.ndarray  # repeat orders
    recency: np.ndarray  # first to last order
    age: np.ndarray  # first order to the cutoff
    spend_per_order: np.ndarray

    @classmethod
    def of(cls, behaviour: np.ndarray, feature_names: list[str]) -> Summary:
        """From the segmenter's raw features (n_orders, recency_days, tenure_days, monetary)."""
        column = {
            name: behaviour[:, feature_names.index(name)].astype(np.float64)
            for name in ("n_orders", "recency_days", "tenure_days", "monetary")
        }
        orders = np.maximum(column["n_orders"], 1.0)
        frequency = np.round(orders - 1.0)
        age = np.maximum(column["tenure_days"], 0.0)
        recency = np.clip(age - column["recency_days"], 0.0, age)
        recency[frequency == 0] = 0.0
        return cls(frequency, recency, age, column["monetary"] / orders)


@dataclass
class CustomerValueModel:
    """Fitted BG/NBD (and Gamma-Gamma where the data has prices)."""

    purchases: object  # lifetimes.BetaGeoFitter
    spend: object | None  # lifetimes.GammaGammaFitter, None for order counts

    @classmethod
    def fit(cls, summary: Summary, priced: bool, seed: int = 0) -> CustomerValueModel:
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        rows = np.arange(len(summary.frequency))
        if len(rows) > MAX_FIT_CUSTOMERS:
            rows = np.random.default_rng(seed).choice(rows, MAX_FIT_CUSTOMERS, replace=False)
        # lifetimes prints the optimiser's state when it fails and autograd warns on every
        # log(0) it tries; the ConvergenceError it then raises says all a user needs.
        with _quiet():
            purchases = BetaGeoFitter(penalizer_coef=PENALIZER).fit(
                summary.frequency[rows], summary.recency[rows], summary.age[rows]
            )
            spend = None
            if priced:
                repeat = rows[(summary.frequency[rows] > 0) & (summary.spend_per_order[rows] > 0)]
                spend = GammaGammaFitter(penalizer_coef=PENALIZER).fit(
                    summary.frequency[repeat], summary.spend_per_order[repeat]
                )
        return cls(purchases, spend)

    def expected_orders(self, summary: Summary, horizon_days: int) -> np.ndarray:
        """Expected orders in the next `horizon_days`: BG/NBD's conditional expectation
        (Fader, Hardie and Lee 2005, eq. 10) with lifetimes' fitted parameters.

        Evaluated here rather than by lifetimes'
        `conditional_expected_number_of_purchases_up_to_time`, which takes the log of the
        hypergeometric term: that term is negative when a + b + x < 1 (seen on Online
        Retail: a = 0.05, b = 0.80 for one-order customers), and the log gives NaN for
        every such customer.
        """
        from scipy.special import hyp2f1

        p = self.purchases.params_
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        x, t_x, age, t = summary.frequency, summary.recency, summary.age, float(horizon_days)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + age + t))
        numerator = (
            (a + b + x - 1) / (a - 1) * (1 - hyp * ((alpha + age) / (alpha + age + t)) ** (r + x))
        )
        repeat = x > 0
        odds = np.zeros_like(x)
        odds[repeat] = (a / (b + x[repeat] - 1)) * (
            (alpha + age[repeat]) / (alpha + t_x[repeat])
        ) ** (r + x[repeat])
        return np.maximum(numerator / (1 + odds), 0.0)

    def no_order_probability(self, summary: Summary, horizon_days: int) -> np.ndarray:
        """P(no order in the next `horizon_days`): gone, or alive with no order yet. A live
        customer's rate is Gamma(r + x, alpha + T) given their history, and BG/NBD drops
        customers only after an order, so P(none | alive) = ((alpha+T)/(alpha+T+h))^(r+x)."""
        params = self.purchases.params_
        alive = np.asarray(
            self.purchases.conditional_probability_alive(
                summary.frequency, summary.recency, summary.age
            ),
            dtype=np.float64,
        )
        base = params["alpha"] + summary.age
        quiet = (base / (base + horizon_days)) ** (params["r"] + summary.frequency)
        return (1.0 - alive) + alive * quiet

    def expected_value(self, summary: Summary, horizon_days: int) -> np.ndarray:
        """Expected spend in the next `horizon_days` (orders where the data has no prices)."""
        orders = self.expected_orders(summary, horizon_days)
        if self.spend is None:
            return orders
        # Gamma-Gamma's mean for a customer with no repeat order is the population's,
        # p v / (q - 1): undefined when q <= 1 (a heavy tail, as in retail logs). A
        # one-order customer is taken as one observed order of what they spent.
        per_order = self.spend.conditional_expected_average_profit(
            np.maximum(summary.frequency, 1.0), np.maximum(summary.spend_per_order, 1e-9)
        )
        return orders * np.asarray(per_order, dtype=np.float64)


def churn_and_value(
    train: Summary, test: Summary, horizon_days: int, priced: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Fit on `train`; for `test`, the probability of no order in the horizon (churn as
    the segmenter defines it) and the expected value in it."""
    model = CustomerValueModel.fit(train, priced)
    return model.no_order_probability(test, horizon_days), model.expected_value(test, horizon_days)


@contextlib.contextmanager
def _quiet():
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
