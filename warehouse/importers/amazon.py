"""Amazon product reviews, the 2014 "5-core" release (McAuley et al.).

One JSON object a line: reviewerID, asin, reviewerName, helpful [yes, total],
reviewText, overall (1-5), summary, unixReviewTime, reviewTime. A review is
the best available proxy for a purchase, so each review also becomes an order
of one unit (no price: the file has none). The review and its order share the
id ``reviewerID-asin``. The category comes from the file name
(``reviews_Musical_Instruments_5.json.gz`` -> "Musical Instruments").
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from segassist.warehouse.importers.reading import (
    Located,
    check_range,
    parse_datetimes,
    parse_ids,
    parse_numbers,
    read_file,
    require_columns,
    require_unique,
)
from segassist.warehouse.importers.writer import Batch
from segassist.warehouse.language import detect_language

REQUIRED = ("reviewerID", "asin", "overall", "unixReviewTime")
SOURCE = "amazon"


def category_from_name(path: Path) -> str | None:
    """'reviews_Musical_Instruments_5.json.gz' -> 'Musical Instruments'."""
    match = re.match(r"(?:reviews_)?(.+?)(?:_5)?\.json", path.name)
    return match.group(1).replace("_", " ") if match else None


def read_amazon(paths: list[Path]) -> Batch:
    """Read Amazon review JSON-lines files into a normalised batch."""
    reviews = pd.concat([_normalise(read_file(p, "jsonl"), p) for p in paths], ignore_index=True)
    batch = Batch(importer="amazon", source=SOURCE, paths=list(paths), rows_read=len(reviews))
    reviews["source"] = SOURCE
    reviews["order_id"] = reviews["review_id"]
    reviews["language"] = reviews["text"].map(lambda t: detect_language(t, default="en"))
    orders = reviews[["order_id", "customer_id", "source"]].assign(
        ordered_at=reviews["reviewed_at"], status="completed", is_cancelled=False
    )
    lines = reviews[["order_id", "product_id"]].assign(
        line_no=1, quantity=1, unit_price=None, is_return=False
    )
    lines["unit_price"] = lines["unit_price"].astype("float64")
    batch.tables = {
        "customers": _customers(reviews),
        "products": reviews.drop_duplicates("product_id")[["product_id", "category"]].assign(
            source=SOURCE
        ),
        "orders": orders,
        "order_lines": lines,
        "reviews": reviews.drop(columns=["category", "customer_name"]),
    }
    batch.notes.append("each review also recorded as a one-unit order (no prices in this data).")
    return batch


def _normalise(data: Located, path: Path) -> pd.DataFrame:
    require_columns(data, REQUIRED)
    frame = data.frame
    customer = parse_ids(data, "reviewerID")
    product = parse_ids(data, "asin")
    review_id = customer + "-" + product
    require_unique(data, review_id, "reviewerID+asin")
    rating = parse_numbers(data, "overall", integer=True)
    check_range(data, rating, "overall", 1, 5)
    helpful = frame["helpful"] if "helpful" in frame else pd.Series([None] * len(frame))
    votes = pd.DataFrame(
        [h if isinstance(h, list) and len(h) == 2 else [0, 0] for h in helpful],
        columns=["helpful_votes", "total_votes"],
    )
    return pd.DataFrame(
        {
            "review_id": review_id,
            "customer_id": customer,
            "customer_name": _optional_text(frame, "reviewerName"),
            "product_id": product,
            "category": category_from_name(path),
            "rating": rating,
            "title": _optional_text(frame, "summary"),
            "text": _optional_text(frame, "reviewText"),
            "reviewed_at": parse_datetimes(data, "unixReviewTime"),
            "helpful_votes": votes["helpful_votes"].astype("int64"),
            "total_votes": votes["total_votes"].astype("int64"),
        }
    )


def _optional_text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series([None] * len(frame), dtype="string")
    text = frame[column].astype("string")
    return text.mask(text.str.strip() == "")


def _customers(reviews: pd.DataFrame) -> pd.DataFrame:
    latest = reviews.sort_values("reviewed_at", kind="stable").dropna(subset=["customer_name"])
    names = latest.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    customers = pd.DataFrame({"customer_id": reviews["customer_id"].unique()})
    customers["name"] = customers["customer_id"].map(names["customer_name"]).str.slice(0, 200)
    customers["source"] = SOURCE
    return customers
