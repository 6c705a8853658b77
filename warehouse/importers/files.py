"""Bring your own data: CSV, Parquet or JSON-lines files plus a mapping file.

The mapping (TOML or YAML) names which of the file's columns hold what; every
file given with one mapping has the same shape. Example (TOML)::

    source = "myshop"              # data set name stored with every row
    # format = "csv"               # default: from the file extension
    # encoding = "utf-8"
    # delimiter = ";"
    # decimal = ","                # for numbers written 1.234,50
    # time_format = "%d/%m/%Y %H:%M"   # default: ISO-like dates are guessed
    # language = "pt"              # default language of the text columns
    # cancelled_order_prefix = "C" # orders whose id starts so are cancellations
    # kind = "support"             # rows are messages to customer service

    [columns]
    customer = "client_id"         # required
    time = "purchased_at"          # required
    product = "sku"
    order = "invoice_no"           # default: one order per customer and time
    quantity = "qty"               # default: 1
    price = "unit_price"
    category = "category"
    product_title = "item_name"
    rating = "stars"               # 1-5
    text = "review_text"
    title = "review_title"
    review_id = "review_no"        # default: derived from customer, product, time
    helpful_votes = "helpful"
    customer_name = "name"
    country = "country"
    event_type = "event"           # rows are browsing events (view/cart/search)
    message_id = "ticket_id"       # with kind = "support"
    channel = "channel"            # with kind = "support": email, chat, ...

With ``kind = "support"`` rows are support messages (`text`, `title` as the
subject, `order`, `channel`, `message_id`). Otherwise what the rows become
follows from the columns mapped: with `event_type`, they
are events (and `text` is the search query); with `quantity`, `price` or
`order`, order lines; rows with a `rating` or `text` are also reviews. A file
of reviews with no order columns (like Amazon's) records each review as a
one-unit purchase, unless `reviews_are_purchases = false`.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from segassist.core.errors import MappingError
from segassist.warehouse.importers.reading import (
    FORMATS,
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

ROLES = (
    "customer",
    "time",
    "product",
    "order",
    "quantity",
    "price",
    "category",
    "product_title",
    "rating",
    "text",
    "title",
    "review_id",
    "helpful_votes",
    "customer_name",
    "country",
    "event_type",
    "message_id",
    "channel",
)
# Roles whose cells are kept as text (blank = missing).
TEXT_ROLES = (
    "category",
    "product_title",
    "text",
    "title",
    "customer_name",
    "country",
    "event_type",
    "channel",
)
OPTIONS = {
    "source",
    "format",
    "encoding",
    "delimiter",
    "decimal",
    "time_format",
    "language",
    "cancelled_order_prefix",
    "reviews_are_purchases",
    "kind",
    "columns",
}


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    source: str
    columns: dict[str, str]
    format: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    decimal: str = "."
    time_format: str | None = None
    language: str = "und"
    cancelled_order_prefix: str | None = None
    reviews_are_purchases: bool | None = None
    kind: str | None = None
    path: Path = field(default=Path("mapping"))

    def has(self, *roles: str) -> bool:
        """True if any of `roles` is mapped to a column."""
        return any(role in self.columns for role in roles)


def load_mapping(path: Path) -> Mapping:
    """Read and validate a TOML or YAML mapping file."""
    if not path.is_file():
        raise MappingError(f"Mapping file {path} not found. Check the --mapping path.")
    raw = _parse_mapping_text(path)
    unknown = set(raw) - OPTIONS
    if unknown:
        raise MappingError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(OPTIONS)}.")
    columns = raw.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError(f"{path}: needs a [columns] table naming at least customer and time.")
    bad_roles = set(columns) - set(ROLES)
    if bad_roles:
        raise MappingError(f"{path}: unknown column roles {sorted(bad_roles)}; known: {ROLES}.")
    for role in ("customer", "time"):
        if role not in columns:
            raise MappingError(f"{path}: [columns] must name the '{role}' column.")
    if not all(isinstance(v, str) and v for v in columns.values()):
        raise MappingError(f"{path}: every [columns] value must be a column name (text).")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 32:
        raise MappingError(f"{path}: 'source' must name the data set (1-32 characters).")
    if raw.get("kind") not in (None, "support"):
        raise MappingError(f"{path}: 'kind' can only be \"support\" (or left out).")
    if raw.get("format") not in (None, *FORMATS):
        raise MappingError(f"{path}: 'format' must be one of {FORMATS}.")
    options = {k: v for k, v in raw.items() if k not in ("columns", "source")}
    return Mapping(source=source.strip(), columns=dict(columns), path=path, **options)


def _parse_mapping_text(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = tomllib.loads(text)
    except Exception as e:  # tomllib and yaml raise their own types; both mean "fix the file"
        raise MappingError(f"{path}: cannot parse mapping ({e}).") from e
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: a mapping must be a table of keys.")
    return raw


def read_files(paths: list[Path], mapping: Mapping) -> Batch:
    """Read files of one shape, as described by `mapping`, into a normalised batch."""
    rows = pd.concat([_normalise(_read(p, mapping), mapping) for p in paths], ignore_index=True)
    batch = Batch(
        importer="files", source=mapping.source, paths=[*paths, mapping.path], rows_read=len(rows)
    )
    rows["source"] = mapping.source
    tables = {"customers": _customers(rows), "products": _products(rows, mapping)}
    if mapping.kind == "support":
        tables["support_messages"] = _support_messages(rows, mapping)
        tables.pop("products")
    elif mapping.has("event_type"):
        tables["events"] = _events(rows)
    else:
        if mapping.has("quantity", "price", "order") or _reviews_are_purchases(mapping):
            tables["orders"], tables["order_lines"] = _orders(rows, mapping)
        if mapping.has("rating", "text"):
            tables["reviews"] = _reviews(rows, mapping)
    batch.tables = {k: v for k, v in tables.items() if v is not None}
    if _reviews_are_purchases(mapping):
        batch.notes.append("no order columns mapped: each review recorded as a one-unit purchase.")
    return batch


def _reviews_are_purchases(mapping: Mapping) -> bool:
    if mapping.has("event_type") or mapping.kind == "support":
        return False
    if mapping.reviews_are_purchases is not None:
        return mapping.reviews_are_purchases
    return mapping.has("rating", "text") and not mapping.has("quantity", "price", "order")


def _read(path: Path, mapping: Mapping) -> Located:
    data = read_file(path, mapping.format, encoding=mapping.encoding, delimiter=mapping.delimiter)
    require_columns(data, list(mapping.columns.values()))
    return data


def _normalise(data: Located, mapping: Mapping) -> pd.DataFrame:
    cols = mapping.columns
    frame = data.frame
    out = pd.DataFrame(
        {
            "customer_id": parse_ids(data, cols["customer"]),
            "time": parse_datetimes(data, cols["time"], mapping.time_format),
        }
    )
    for role in ("product", "order", "review_id", "message_id"):
        if role in cols:
            out[role] = parse_ids(data, cols[role], required=role != "product")
    if "quantity" in cols:
        out["quantity"] = parse_numbers(data, cols["quantity"], integer=True)
    if "price" in cols:
        out["price"] = parse_numbers(data, cols["price"], required=False, decimal=mapping.decimal)
    if "rating" in cols:
        out["rating"] = parse_numbers(data, cols["rating"], integer=True, required=False)
        check_range(data, out["rating"], cols["rating"], 1, 5)
    if "helpful_votes" in cols:
        out["helpful_votes"] = parse_numbers(
            data, cols["helpful_votes"], integer=True, required=False
        )
    for role in TEXT_ROLES:
        if role in cols:
            text = frame[cols[role]].astype("string").str.strip()
            out[role] = text.mask(text == "")
    if "review_id" in cols:
        reviewed = out["review_id"]
        if mapping.has("rating", "text"):
            reviewed = reviewed.where(_has_review(out))
        require_unique(data, reviewed, cols["review_id"])
    return out


def _has_review(rows: pd.DataFrame) -> pd.Series:
    has = pd.Series(False, index=rows.index)
    for column in ("rating", "text"):
        if column in rows:
            has |= rows[column].notna()
    return has


def _stable_id(*parts: pd.Series) -> pd.Series:
    """A deterministic short id from row values, so re-imports match."""
    joined = parts[0].astype("string").fillna("")
    for part in parts[1:]:
        joined = joined + "|" + part.astype("string").fillna("")
    return joined.map(lambda s: hashlib.sha1(s.encode()).hexdigest()[:20])


def _customers(rows: pd.DataFrame) -> pd.DataFrame:
    latest = rows.sort_values("time", kind="stable").drop_duplicates("customer_id", keep="last")
    customers = latest[["customer_id", "source"]].copy()
    for role, column in (("customer_name", "name"), ("country", "country")):
        if role in rows:
            customers[column] = latest[role].str.slice(0, 200)
    return customers


def _products(rows: pd.DataFrame, mapping: Mapping) -> pd.DataFrame | None:
    if "product" not in rows:
        return None
    known = rows.dropna(subset=["product"])
    latest = known.sort_values("time", kind="stable").drop_duplicates("product", keep="last")
    products = pd.DataFrame({"product_id": latest["product"], "source": mapping.source})
    if "category" in rows:
        products["category"] = latest["category"].to_numpy()
    if "product_title" in rows:
        products["title"] = latest["product_title"].to_numpy()
    if "price" in rows:
        sold = known[known["price"] > 0]
        products["price"] = products["product_id"].map(sold.groupby("product")["price"].median())
    return products


def _orders(rows: pd.DataFrame, mapping: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Without an order column, one customer's rows at one time are one order.
    order_id = rows["order"] if "order" in rows else _stable_id(rows["customer_id"], rows["time"])
    lines = pd.DataFrame({"order_id": order_id})
    lines["line_no"] = lines.groupby("order_id", sort=False).cumcount() + 1
    lines["product_id"] = rows.get("product")
    lines["quantity"] = rows.get("quantity", 1)
    lines["unit_price"] = rows["price"] if "price" in rows else float("nan")
    grouped = rows.assign(order_id=order_id).groupby("order_id", sort=False)
    orders = pd.DataFrame(
        {
            "customer_id": grouped["customer_id"].first(),
            "ordered_at": grouped["time"].min(),
            "source": mapping.source,
        }
    ).reset_index()
    if "country" in rows:
        orders["country"] = grouped["country"].first().to_numpy()
    prefix = mapping.cancelled_order_prefix
    cancelled = orders["order_id"].str.startswith(prefix) if prefix else False
    orders["is_cancelled"] = cancelled
    orders["status"] = "completed"
    orders.loc[orders["is_cancelled"], "status"] = "cancelled"
    lines["is_return"] = (lines["quantity"] < 0) | lines["order_id"].isin(
        set(orders.loc[orders["is_cancelled"], "order_id"])
    )
    return orders, lines


def _events(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": _stable_id(
                rows["customer_id"],
                rows["time"],
                rows["event_type"],
                rows.get("product", pd.Series(index=rows.index)),
            ),
            "customer_id": rows["customer_id"],
            "product_id": rows.get("product"),
            "event_type": rows["event_type"].fillna("event").str.lower(),
            "occurred_at": rows["time"],
            "query": rows.get("text"),
            "source": rows["source"],
        }
    )


def _reviews(rows: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    reviewed = rows[_has_review(rows)]
    if "review_id" in reviewed:
        review_id = reviewed["review_id"]
    else:
        review_id = _stable_id(
            reviewed["customer_id"],
            reviewed.get("product", pd.Series(index=reviewed.index)),
            reviewed["time"],
        )
    text = reviewed.get("text", pd.Series(index=reviewed.index, dtype="string"))
    reviews = pd.DataFrame(
        {
            "review_id": review_id,
            "customer_id": reviewed["customer_id"],
            "product_id": reviewed.get("product"),
            "rating": reviewed.get("rating"),
            "title": reviewed.get("title"),
            "text": text,
            "language": text.map(lambda t: detect_language(t, default=mapping.language)),
            "reviewed_at": reviewed["time"],
            "helpful_votes": reviewed.get("helpful_votes", pd.Series(0, index=reviewed.index))
            .fillna(0)
            .astype("int64"),
            "total_votes": 0,
            "source": mapping.source,
        }
    )
    if _reviews_are_purchases(mapping) and "order" not in reviewed:
        reviews["order_id"] = _stable_id(reviewed["customer_id"], reviewed["time"])
    duplicated = review_id.duplicated()
    if duplicated.any():  # same customer, product and time twice: one review
        reviews = reviews[~duplicated.to_numpy()]
    return reviews


def _support_messages(rows: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    text = rows.get("text", pd.Series(index=rows.index, dtype="string"))
    if "message_id" in rows:
        message_id = rows["message_id"]
    else:
        message_id = _stable_id(rows["customer_id"], rows["time"], text)
    return pd.DataFrame(
        {
            "message_id": message_id,
            "customer_id": rows["customer_id"],
            "order_id": rows.get("order"),
            "channel": rows.get("channel"),
            "subject": rows.get("title"),
            "text": text,
            "language": text.map(lambda t: detect_language(t, default=mapping.language)),
            "sent_at": rows["time"],
            "source": mapping.source,
        }
    )
