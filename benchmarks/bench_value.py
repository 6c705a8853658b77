"""Benchmark: expected spend out of sample on Online Retail II.

Cuts the file 90 days before its end, imports the cut, trains (`--no-text
--horizon 90`) and scores it in a temporary folder, then compares each scored
customer's expected spend with what they spent in the next 90 days of the full
file: predicted total over actual, churn ROC-AUC, spend Spearman, and the
mean predicted and actual spend per predicted decile. BG/NBD + Gamma-Gamma
(training.clv, fitted by `lifetimes`) is fitted on the same cut, at the same
scoring date, and judged on the same customers: the peer a CRM analyst uses.

Usage: python benchmarks/bench_value.py [--data ../shared/data] [--before 90]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", type=Path, default=Path("../shared/data"))
parser.add_argument(
    "--before",
    type=int,
    default=90,
    help="cut this many days before the file's end (90: the next 90 days are the file's "
    "last, its Christmas quarter; 180: the summer before it)",
)
args = parser.parse_args()
full = pd.read_parquet(args.data / "online_retail" / "online_retail_ii_2009_2010.parquet")
full["InvoiceDate"] = pd.to_datetime(full["InvoiceDate"])
end = full["InvoiceDate"].max()
cut = end - pd.Timedelta(days=args.before)
work = Path(tempfile.mkdtemp(prefix="bench-value-"))
full[full["InvoiceDate"] < cut].to_parquet(work / "cut.parquet")
db = work / "w.db"
db.unlink(missing_ok=True)
env = {**os.environ, "SEGASSIST_HOME": str(work / "home")}
cli = str(Path(sys.executable).parent / "segassist")
steps = (
    ["import", "online-retail", str(work / "cut.parquet")],
    ["train", "--no-text", "--horizon", "90"],
    ["score"],
)
for step in steps:
    out = subprocess.run(
        [cli, "--db", f"sqlite:///{db}", *step], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"{step[0]} failed: {out.stderr[-500:]}")
    print(step[0], "->", out.stdout.strip().splitlines()[-1])
engine = sa.create_engine(f"sqlite:///{db}")
scores = pd.read_sql("SELECT customer_id, churn_risk, value_estimate FROM customer_scores", engine)

# BG/NBD on the same cut, from each customer's whole history up to its end (its model
# reads the whole purchase history; the segmenter looks back as far as it was trained).
from datetime import timedelta  # noqa: E402

from segassist.training.clv import CustomerValueModel, Summary  # noqa: E402
from segassist.training.evaluate import value_deciles  # noqa: E402
from segassist.training.features import Window, activity_span, compute_features  # noqa: E402

_, last = activity_span(engine)
history = compute_features(engine, Window(last + timedelta(seconds=1), 90))
summary = Summary.of(history.features, history.feature_names)
clv = CustomerValueModel.fit(summary, priced=True)
bgnbd = pd.DataFrame(
    {
        "customer_id": history.customer_ids,
        "churn_risk": clv.no_order_probability(summary, 90),
        "value_estimate": clv.expected_value(summary, 90),
    }
)
scores = scores.merge(bgnbd, on="customer_id", suffixes=("", "_bgnbd"))
after = full[
    (full["InvoiceDate"] >= cut)
    & (full["InvoiceDate"] < cut + pd.Timedelta(days=90))
    & ~full["Invoice"].astype(str).str.startswith("C")
    & full["Customer ID"].notna()
]
after = after.assign(
    customer_id=after["Customer ID"].astype("int64").astype(str),
    spend=after["Quantity"] * after["Price"],
)
actual = after.groupby("customer_id")["spend"].sum().clip(lower=0)
scores["actual"] = scores["customer_id"].map(actual).fillna(0.0)
spent = scores["actual"].sum()
print(
    f"cut {cut:%Y-%m-%d}; {len(scores):,} customers scored; actual spend next 90 days {spent:,.0f}"
)
for name, suffix in (("segassist", ""), ("BG/NBD + Gamma-Gamma", "_bgnbd")):
    value, churn = scores["value_estimate" + suffix], scores["churn_risk" + suffix]
    auc = roc_auc_score(scores["actual"] == 0, churn)
    rho = spearmanr(scores["actual"], value).statistic
    print(
        f"{name}: predicted {value.sum():,.0f} = {value.sum() / spent:.2f}x the actual; "
        f"churn ROC-AUC {auc:.3f}; spend Spearman {rho:.3f}"
    )
    deciles = value_deciles(scores["actual"].to_numpy(), value.to_numpy())
    table = pd.DataFrame(deciles, columns=["predicted", "actual"], index=range(1, 11))
    print(table.rename_axis("decile").round(1).to_string())
