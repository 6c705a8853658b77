"""Bring your own data: files of one shape, described by a mapping (see `mapping.py`),
turned into warehouse rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from segassist.core.errors import ImportValidationError
from segassist.warehouse.importers.cells import (
    category_path,
    clean_text,
    cleaning_notes,
    located_rows,
    parse_datetimes,
    parse_ids,
    parse_numbers,
    require_columns,
    require_one_customer_per_order,
    require_unique,
    timedelta_days,
)
from segassist.warehouse.importers.mapping import (
    MARKUP_ROLES,
    TEXT_ROLES,
    Mapping,
    load_mapping,
)
from segassist.warehouse.importers.reading import Located, read_file
from segassist.warehouse.importers.writer import Batch
from segassist.warehouse.language import detect_language

__all__ = ["Mapping", "load_mapping", "read_files"]
LINE_ROLES = ("quantity", "price", "amount", "product")


def read_files(paths: list[Path], mapping: Mapping) -> Batch:
    """Read files of one shape, as described by `mapping`, into a normalised batch."""
    located = [_read(p, mapping) for p in paths]
    rows = pd.concat([_normalise(d, mapping) for d in located], ignore_index=True)
    batch = Batch(
        importer="files", source=mapping.source, paths=[*paths, mapping.path], rows_read=len(rows)
    )
    rows["source"] = mapping.source
    if mapping.anchor_date is not None and "time" not in mapping.columns:
        rows["time"] = _relative_times(rows, mapping, batch)
    if mapping.kind == "products":
        batch.tables = {"products": _product_metadata(rows, mapping)}
        batch.update = frozenset({"products"})
    elif mapping.kind == "order_lines":
        batch.tables = {"products": _products(rows, mapping), "order_lines": _lines(rows)}
        batch.tables = {k: v for k, v in batch.tables.items() if v is not None}
    else:
        batch.tables = _customer_tables(rows, mapping, batch)
    if _reviews_are_purchases(mapping):
        batch.notes.append("no order columns mapped: each review recorded as a one-unit purchase.")
    batch.notes += cleaning_notes(located)
    return batch


def _customer_tables(rows: pd.DataFrame, mapping: Mapping, batch: Batch) -> dict:
    if mapping.has("order"):
        require_one_customer_per_order(rows, "order", "customer_id")
        anonymous = int(rows["customer_id"].isna().sum())
        if anonymous:
            batch.notes.append(
                f"{anonymous:,} lines without a customer kept as anonymous orders (customer_id "
                "NULL; they count in revenue, not in any customer)."
            )
    rows = _drop_repeated_reviews(rows, mapping, batch)
    tables = {"customers": _customers(rows), "products": _products(rows, mapping)}
    if mapping.kind == "support":
        tables["support_messages"] = _support_messages(rows, mapping)
        tables.pop("products")
    elif mapping.has("event_type"):
        tables["events"] = _events(rows)
    else:
        if mapping.has("order", *LINE_ROLES) or _reviews_are_purchases(mapping):
            orders, lines = _orders(rows, mapping)
            tables["orders"] = orders
            if mapping.has(*LINE_ROLES) or _reviews_are_purchases(mapping):
                tables["order_lines"] = lines
        if mapping.has("rating", "text"):
            tables["reviews"] = _reviews(rows, mapping)
    return {k: v for k, v in tables.items() if v is not None}


def _reviews_are_purchases(mapping: Mapping) -> bool:
    if mapping.has("event_type") or mapping.kind is not None:
        return False
    if mapping.reviews_are_purchases is not None:
        return mapping.reviews_are_purchases
    return mapping.has("rating", "text") and not mapping.has("order", *LINE_ROLES[:3])


def _read(path: Path, mapping: Mapping) -> Located:
    data = read_file(path, mapping.format, encoding=mapping.encoding, delimiter=mapping.delimiter)
    require_columns(data, list(mapping.columns.values()))
    return data


def _normalise(data: Located, mapping: Mapping) -> pd.DataFrame:
    cols, limits = mapping.columns, mapping.limits
    out = pd.DataFrame(index=data.frame.index)
    if "customer" in cols:  # order lines without a customer are anonymous sales, kept
        anonymous = mapping.has("order") and mapping.kind is None and not mapping.has("event_type")
        out["customer_id"] = parse_ids(data, cols["customer"], required=not anonymous)
    if "time" in cols:
        out["time"] = parse_datetimes(data, cols["time"], mapping.time_format, limits=limits)
    for role in ("product", "order", "review_id", "message_id"):
        if role in cols:
            required = role != "product" or mapping.kind == "products"
            out[role] = parse_ids(data, cols[role], required=required)
    numbers = {"decimal": mapping.decimal, "thousands": mapping.thousands}
    for role, integer, bounds in (
        ("quantity", True, limits.quantity),
        ("price", False, limits.price),
        ("amount", False, limits.amount),
        ("helpful_votes", True, limits.votes),
        ("line_no", True, (1, 1_000_000)),
        ("day_offset", False, (-1e5, 1e5)),
        ("order_number", True, (0, 1e7)),
        ("days_since_prior", False, (0, 1e5)),
        ("hour", False, (0, 23.99)),
    ):
        if role in cols:
            money = role in ("price", "amount")
            out[role] = parse_numbers(
                data,
                cols[role],
                integer=integer,
                required=role in ("quantity", "line_no", "day_offset", "order_number"),
                currency=money,
                bounds=bounds,
                **numbers,
            )
    if "rating" in cols:
        out["rating"] = parse_numbers(
            data, cols["rating"], integer=True, required=False, bounds=(1, 5), **numbers
        )
    for role in TEXT_ROLES:
        if role in cols:
            raw = data.frame[cols[role]]
            if role == "category":
                raw = raw.map(category_path)
            out[role] = clean_text(data, raw, markup=role in MARKUP_ROLES)
    if "review_id" in cols:
        reviewed = out["review_id"]
        if mapping.has("rating", "text"):
            reviewed = reviewed.where(_has_review(out))
        require_unique(data, reviewed, cols["review_id"])
    return located_rows(data, out)


def _relative_times(rows: pd.DataFrame, mapping: Mapping, batch: Batch) -> pd.Series:
    """Times from the anchor date plus day offsets (see the mapping's docstring)."""
    anchor = pd.Timestamp(mapping.anchor_date)
    if "day_offset" in rows:
        days = rows["day_offset"]
        how = "plus each row's day offset"
    else:
        orders = rows.drop_duplicates(["customer_id", "order_number"])
        orders = orders.sort_values(["customer_id", "order_number"], kind="stable")
        gaps = orders["days_since_prior"].astype("float64").fillna(0.0)
        first = ~orders["customer_id"].duplicated()
        gaps = gaps.mask(first, 0.0)
        orders = orders.assign(_days=gaps.groupby(orders["customer_id"]).cumsum())
        key = ["customer_id", "order_number"]
        days = rows[key].merge(orders[[*key, "_days"]], on=key, how="left")["_days"]
        days.index = rows.index
        how = "with each customer's first order on it and later ones after the days since prior"
    times = anchor + timedelta_days(days)
    if "hour" in rows:
        times = times + pd.to_timedelta(rows["hour"].astype("float64").fillna(0), unit="h")
    low, high = mapping.limits.dates
    late = (times > high) | (times < low)
    if late.any():
        position = int(late.to_numpy().nonzero()[0][0])
        raise ImportValidationError(
            str(rows["_file"].iloc[position]),
            "relative time leaves the plausible window",
            line=int(rows["_line"].iloc[position]),
            found=str(times.iloc[position]),
            hint="Move anchor_date, or widen [limits] dates.",
        )
    span = (times.max() - times.min()).days
    batch.notes.append(
        f"times built from the anchor date {anchor:%Y-%m-%d}, {how}; they span {span:,} days "
        f"({times.min():%Y-%m-%d} to {times.max():%Y-%m-%d})."
    )
    return times.astype("datetime64[us]")


def _drop_repeated_reviews(rows: pd.DataFrame, mapping: Mapping, batch: Batch) -> pd.DataFrame:
    """The same review twice (same review id, or same customer, product and time): kept
    once. When reviews are the purchases, the repeat's purchase goes with it."""
    if not mapping.has("rating", "text") or mapping.has("event_type") or mapping.kind:
        return rows
    key = _review_ids(rows)
    repeated = key.duplicated(keep="first") & _has_review(rows)
    if not repeated.any():
        return rows
    count = int(repeated.sum())
    if _reviews_are_purchases(mapping):
        batch.notes.append(
            f"{count:,} repeated reviews (same customer, product and time) dropped with their "
            "purchase: the first of each is kept."
        )
        return rows[~repeated.to_numpy()].reset_index(drop=True)
    batch.notes.append(
        f"{count:,} order lines repeat a review already read: the lines are kept, the review once."
    )
    return rows


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


def _review_ids(rows: pd.DataFrame) -> pd.Series:
    if "review_id" in rows:
        return rows["review_id"]
    return _stable_id(
        rows["customer_id"], rows.get("product", pd.Series(index=rows.index)), rows["time"]
    )


def _customers(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.dropna(subset=["customer_id"])
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
    if "time" in known:
        known = known.sort_values("time", kind="stable")
    latest = known.drop_duplicates("product", keep="last")
    products = pd.DataFrame({"product_id": latest["product"], "source": mapping.source})
    for role, column in (("category", "category"), ("product_title", "title"), ("brand", "brand")):
        if role in rows:
            products[column] = latest[role].to_numpy()
    unit_price = _unit_prices(known)
    if unit_price is not None:
        sold = known.assign(_price=unit_price)[unit_price > 0]
        products["price"] = products["product_id"].map(sold.groupby("product")["_price"].median())
    return products


def _product_metadata(rows: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    latest = rows.drop_duplicates("product", keep="last")
    products = pd.DataFrame({"product_id": latest["product"], "source": mapping.source})
    for role, column in (
        ("product_title", "title"),
        ("category", "category"),
        ("brand", "brand"),
        ("price", "price"),
    ):
        if role in rows:
            products[column] = latest[role].to_numpy()
    return products


def _unit_prices(rows: pd.DataFrame) -> pd.Series | None:
    """Unit price per row: the price, else the line amount over its quantity."""
    if "price" in rows:
        return rows["price"]
    if "amount" in rows:
        quantity = rows["quantity"].astype("float64") if "quantity" in rows else 1.0
        per_unit = rows["amount"] / quantity
        return per_unit.where(pd.Series(quantity, index=rows.index) != 0)
    return None


def _lines(rows: pd.DataFrame) -> pd.DataFrame:
    lines = pd.DataFrame({"order_id": rows["order"]})
    if "line_no" in rows:
        lines["line_no"] = rows["line_no"].astype("int64")
    else:
        lines["line_no"] = lines.groupby("order_id", sort=False).cumcount() + 1
    lines["product_id"] = rows.get("product")
    lines["quantity"] = rows.get("quantity", 1)
    unit_price = _unit_prices(rows)
    lines["unit_price"] = unit_price if unit_price is not None else float("nan")
    lines["description"] = rows.get("product_title")
    lines["is_return"] = lines["quantity"] < 0
    return lines


def _orders(rows: pd.DataFrame, mapping: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Without an order column, one customer's rows at one time are one order.
    order_id = rows["order"] if "order" in rows else _stable_id(rows["customer_id"], rows["time"])
    lines = _lines(rows.assign(order=order_id))
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
    lines["is_return"] = lines["is_return"] | lines["order_id"].isin(
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
    reviewed = rows[_has_review(rows) & rows["customer_id"].notna()]
    review_id = _review_ids(reviewed)
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
    elif "order" in reviewed:
        reviews["order_id"] = reviewed["order"]
    return reviews[~review_id.duplicated().to_numpy()]


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
