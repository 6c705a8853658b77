"""Amazon product reviews and product metadata (McAuley et al.), every release.

Reviews, field names by release (all read by the same command):

- 2014: reviewerID, asin, reviewerName, helpful [yes, total], reviewText,
  overall, summary, unixReviewTime (s), reviewTime;
- 2018: the same, with `vote` (helpful votes as text, "1,341") instead of
  `helpful`, plus style, verified, image;
- 2023: user_id, asin, parent_asin, rating, title, text, timestamp (ms),
  helpful_vote, verified_purchase (the product is `parent_asin`, the id its
  metadata uses).

Files may be JSON lines, one JSON array, or pretty-printed objects, and
compressed. A review is the best available proxy for a purchase, so each
review also becomes an order of one unit (no price: reviews have none); the
review and its order share the id ``reviewer-product``.

The same reviewer reviewing the same product twice (the 2018 files hold such
duplicates): one review is kept, the latest (ties: the last in the file), with
its order; the others are dropped whole and counted in the summary.

Metadata files (`meta_*.json`, or records without a reviewer): asin or
parent_asin, title, price ("$1,250.00"; a range or no price leaves it empty),
category path (`categories`, `category`, `main_category`), brand (`brand`,
`store`, `details.Brand`). They add or update products by id.

Without metadata the category comes from the file name
(``reviews_Musical_Instruments_5.json.gz`` -> "Musical Instruments").
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from segassist.core.errors import ImportValidationError
from segassist.warehouse.importers.cells import (
    Limits,
    category_path,
    check_range,
    clean_text,
    cleaning_notes,
    parse_datetimes,
    parse_ids,
    parse_numbers,
    require_columns,
)
from segassist.warehouse.importers.reading import Located, read_file
from segassist.warehouse.importers.writer import Batch
from segassist.warehouse.language import detect_language

SOURCE = "amazon"
# Each warehouse field and the names the releases give it, in order of preference.
FIELDS = {
    "customer": ("reviewerID", "user_id"),
    "product": ("parent_asin", "asin"),
    "rating": ("overall", "rating"),
    "time": ("unixReviewTime", "timestamp", "reviewTime"),
    "text": ("reviewText", "text"),
    "title": ("summary", "title"),
    "name": ("reviewerName",),
    "votes": ("helpful_vote", "vote"),
}


def category_from_name(path: Path) -> str | None:
    """'reviews_Musical_Instruments_5.json.gz' -> 'Musical Instruments'."""
    match = re.match(r"(?:reviews_)?(.+?)(?:_5)?\.json", path.name)
    return match.group(1).replace("_", " ") if match else None


def read_amazon(paths: list[Path], limits: Limits | None = None) -> Batch:
    """Read Amazon review and metadata files into a normalised batch."""
    if not paths:
        raise ImportValidationError("amazon", "no files", expected="*.json, *.json.gz or a folder")
    limits = limits or Limits()
    located = [read_file(p, "json") for p in paths]
    meta = [d for d in located if _is_metadata(d)]
    reviews_read = [d for d in located if not _is_metadata(d)]
    batch = Batch(
        importer="amazon",
        source=SOURCE,
        paths=list(paths),
        rows_read=sum(len(d.frame) for d in located),
    )
    products = _metadata(meta, batch, limits) if meta else None
    tables: dict[str, pd.DataFrame] = {}
    if reviews_read:
        tables = _review_tables(reviews_read, batch, limits)
        products = _merge_products(products, tables.pop("review_products"))
    if products is not None:
        tables["products"] = products
        batch.update = frozenset({"products"}) if meta else frozenset()
    batch.tables = tables
    batch.notes += cleaning_notes(located)
    return batch


def _is_metadata(data: Located) -> bool:
    if data.path.name.lower().startswith("meta"):
        return True
    return _pick(data, "customer") is None and "title" in data.frame


def _pick(data: Located, name: str) -> str | None:
    """The column this file uses for field `name`, if any."""
    return next((c for c in FIELDS[name] if c in data.frame), None)


def _require(data: Located, name: str) -> str:
    column = _pick(data, name)
    if column is None:
        require_columns(data, FIELDS[name][:1])  # names the column, suggests a close one
    return column or FIELDS[name][0]


def _review_tables(located: list[Located], batch: Batch, limits: Limits) -> dict:
    frames = [_normalise(d, limits) for d in located]
    reviews = pd.concat(frames, ignore_index=True)
    reviews = _drop_duplicates(reviews, batch)
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
    batch.notes.append("each review also recorded as a one-unit order (reviews carry no price).")
    return {
        "customers": _customers(reviews),
        "review_products": reviews.drop_duplicates("product_id")[["product_id", "category"]],
        "orders": orders,
        "order_lines": lines,
        "reviews": reviews.drop(columns=["category", "customer_name", "_order"]),
    }


def _drop_duplicates(reviews: pd.DataFrame, batch: Batch) -> pd.DataFrame:
    """One review per reviewer and product: the latest (ties: the last read)."""
    reviews["_order"] = range(len(reviews))
    latest = reviews.sort_values(["reviewed_at", "_order"], kind="stable")
    kept = latest.drop_duplicates("review_id", keep="last").sort_values("_order")
    dropped = len(reviews) - len(kept)
    if dropped:
        batch.notes.append(
            f"{dropped:,} repeated reviews of a product by the same reviewer dropped with their "
            "orders (rule: the latest review of each reviewer and product is kept)."
        )
    return kept.reset_index(drop=True)


def _normalise(data: Located, limits: Limits) -> pd.DataFrame:
    frame = data.frame
    customer = parse_ids(data, _require(data, "customer"))
    product = parse_ids(data, _require(data, "product"))
    rating_column = _require(data, "rating")
    rating = parse_numbers(data, rating_column, integer=True)
    check_range(data, rating, rating_column, 1, 5)
    helpful, total = _votes(data, limits)
    return pd.DataFrame(
        {
            "review_id": customer + "-" + product,
            "customer_id": customer,
            "customer_name": _text(data, "name").str.slice(0, 200),
            "product_id": product,
            "category": category_from_name(data.path),
            "rating": rating,
            "title": _text(data, "title", markup=True),
            "text": _text(data, "text", markup=True),
            "reviewed_at": _times(data, limits),
            "helpful_votes": helpful,
            "total_votes": total,
        },
        index=frame.index,
    )


def _times(data: Located, limits: Limits) -> pd.Series:
    column = _require(data, "time")
    if column == "reviewTime":  # "09 13, 2009" (month day, year)
        return parse_datetimes(data, column, "%m %d, %Y", limits=limits)
    return parse_datetimes(data, column, limits=limits)


def _votes(data: Located, limits: Limits) -> tuple[pd.Series, pd.Series]:
    """(helpful votes, total votes). 2014 gives both; 2018 and 2023 give helpful votes only,
    recorded as the total too (every published vote was a helpful one)."""
    frame = data.frame
    if "helpful" in frame:
        pairs = [h if isinstance(h, list) and len(h) == 2 else [0, 0] for h in frame["helpful"]]
        votes = pd.DataFrame(pairs, index=frame.index).fillna(0).astype("int64")
        return votes[0], votes[1]
    column = _pick(data, "votes")
    if column is None:
        zero = pd.Series(0, index=frame.index, dtype="int64")
        return zero, zero
    helpful = parse_numbers(
        data, column, integer=True, required=False, thousands=",", bounds=limits.votes
    )
    helpful = helpful.fillna(0).astype("int64")
    return helpful, helpful


def _text(data: Located, name: str, *, markup: bool = False) -> pd.Series:
    column = _pick(data, name)
    if column is None:
        return pd.Series(pd.NA, index=data.frame.index, dtype="string")
    return clean_text(data, data.frame[column], markup=markup)


def _customers(reviews: pd.DataFrame) -> pd.DataFrame:
    latest = reviews.sort_values("reviewed_at", kind="stable").dropna(subset=["customer_name"])
    names = latest.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    customers = pd.DataFrame({"customer_id": reviews["customer_id"].unique()})
    customers["name"] = customers["customer_id"].map(names["customer_name"])
    customers["source"] = SOURCE
    return customers


def _metadata(located: list[Located], batch: Batch, limits: Limits) -> pd.DataFrame:
    frames = [_normalise_metadata(d, limits) for d in located]
    products = pd.concat(frames, ignore_index=True).drop_duplicates("product_id", keep="last")
    unpriced = int(sum(d.counts.get("unparsed_price", 0) for d in located))
    batch.notes.append(
        f"{len(products):,} products described by metadata (title, price, category, brand)."
    )
    if unpriced:
        batch.notes.append(
            f"{unpriced:,} metadata prices were not one amount (a range or text) and were left "
            "empty."
        )
    return products.assign(source=SOURCE)


def _normalise_metadata(data: Located, limits: Limits) -> pd.DataFrame:
    product = parse_ids(data, _require(data, "product"))
    return pd.DataFrame(
        {
            "product_id": product,
            "title": _optional(data, "title", markup=True),
            "price": _metadata_price(data, limits),
            "category": _category_path(data).str.slice(0, 300),
            "brand": _brand(data).str.slice(0, 100),
        }
    )


def _optional(data: Located, column: str, *, markup: bool = False) -> pd.Series:
    if column not in data.frame:
        return pd.Series(pd.NA, index=data.frame.index, dtype="string")
    values = data.frame[column].map(lambda v: v if isinstance(v, str) else None)
    return clean_text(data, values, markup=markup)


def _metadata_price(data: Located, limits: Limits) -> pd.Series:
    """Prices such as "$1,250.00" or 12.5; ranges and page fragments become empty."""
    if "price" not in data.frame:
        return pd.Series(float("nan"), index=data.frame.index)
    raw = data.frame["price"].map(lambda v: None if isinstance(v, (list, dict)) else v)
    text = raw.astype("string").str.strip()
    one_amount = r"[^\d]{0,4}\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    single = text.str.fullmatch(one_amount).fillna(False) | raw.map(
        lambda v: isinstance(v, (int, float))
    )
    given = text.notna() & (text != "")
    data.counts["unparsed_price"] = int((given & ~single).sum())
    probe = Located(data.path, pd.DataFrame({"price": raw.where(single)}), 1, data.unit, data.lines)
    return parse_numbers(
        probe, "price", required=False, thousands=",", currency=True, bounds=limits.price
    )


def _category_path(data: Located) -> pd.Series:
    """'A > B > C' from 2014's [[A, B, C], ...], 2018's [A, B, C] or 2023's main_category
    (the most specific field present wins), entities such as '&amp;' decoded."""
    frame = data.frame
    result = pd.Series(None, index=frame.index, dtype="object")
    for column in ("main_cat", "main_category", "category", "categories"):
        if column in frame:
            paths = (
                frame[column]
                .map(category_path)
                .map(lambda v: v if isinstance(v, str) and v.strip() else None)
            )
            result = paths.where(paths.notna(), result)
    return clean_text(data, result, markup=True)


def _brand(data: Located) -> pd.Series:
    frame = data.frame
    brand = pd.Series(None, index=frame.index, dtype="object")
    if "details" in frame:
        brand = frame["details"].map(lambda d: d.get("Brand") if isinstance(d, dict) else None)
    for column in ("store", "brand"):
        if column in frame:
            named = frame[column].map(lambda v: v if isinstance(v, str) and v.strip() else None)
            brand = named.where(named.notna(), brand)
    return clean_text(data, brand, markup=True)


def _merge_products(meta: pd.DataFrame | None, reviewed: pd.DataFrame) -> pd.DataFrame:
    """Reviewed products, described by the metadata where it has them."""
    reviewed = reviewed.assign(source=SOURCE)
    if meta is None:
        return reviewed
    extra = reviewed[~reviewed["product_id"].isin(meta["product_id"])]
    merged = meta.merge(
        reviewed[["product_id", "category"]].rename(columns={"category": "_file_category"}),
        on="product_id",
        how="left",
    )
    merged["category"] = merged["category"].fillna(merged.pop("_file_category"))
    return pd.concat([merged, extra], ignore_index=True)
