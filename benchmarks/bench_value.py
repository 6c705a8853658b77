"""Benchmark: expected spend out of sample on Online Retail II.

Cuts the file 90 days before its end, imports the cut, trains (`--no-text
--horizon 90`) and scores it in a temporary folder, then compares each scored
customer's expected spend with what they spent in the next 90 days of the full
file: predicted total over actual, churn ROC-AUC, spend Spearman, and the
mean predicted and actual spend per predicted decile.

Usage: python benchmarks/bench_value.py [--data ../shared/data]
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
args = parser.parse_args()
full = pd.read_parquet(args.data / "online_retail" / "online_retail_ii_2009_2010.parquet")
full["InvoiceDate"] = pd.to_datetime(full["InvoiceDate"])
end = full["InvoiceDate"].max()
cut = end - pd.Timedelta(days=90)
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
after = full[
    (full["InvoiceDate"] >= cut)
    & ~full["Invoice"].astype(str).str.startswith("C")
    & full["Customer ID"].notna()
]
after = after.assign(
    customer_id=after["Customer ID"].astype("int64").astype(str),
    spend=after["Quantity"] * after["Price"],
)
actual = after.groupby("customer_id")["spend"].sum().clip(lower=0)
scores["actual"] = scores["customer_id"].map(actual).fillna(0.0)
ratio = scores["value_estimate"].sum() / scores["actual"].sum()
auc = roc_auc_score(scores["actual"] == 0, scores["churn_risk"])
rho = spearmanr(scores["actual"], scores["value_estimate"]).statistic
predicted, spent = scores["value_estimate"].sum(), scores["actual"].sum()
print(
    f"cut {cut:%Y-%m-%d}; {len(scores):,} customers scored; predicted {predicted:,.0f} vs "
    f"actual {spent:,.0f} = {ratio:.2f}x; churn ROC-AUC {auc:.3f}; spend Spearman {rho:.3f}"
)
scores["decile"] = pd.qcut(scores["value_estimate"].rank(method="first"), 10, labels=False) + 1
table = scores.groupby("decile")[["value_estimate", "actual"]].mean().round(1)
print(table.to_string())
