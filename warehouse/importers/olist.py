"""Olist Brazilian e-commerce (CSV folder, the full Kaggle set or a subset).

The person is ``customer_unique_id``; Olist's ``customer_id`` is per order and
only used to link orders to people. Each order item is an order line of one
unit at its price (freight is not revenue and is left out). Orders with status
'canceled' or 'unavailable' are marked ``is_cancelled``. Categories are
translated to English when ``category_translation.csv`` is present. A review
id that Olist reused for several orders is kept once per order, suffixed with
the order id.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from segassist.core.errors import ImportValidationError
from segassist.warehouse.importers.cells import (
    Limits,
    check_range,
    clean_text,
    cleaning_notes,
    parse_datetimes,
    parse_ids,
    parse_numbers,
    require_columns,
    require_unique,
)
from segassist.warehouse.importers.reading import Located, read_file
from segassist.warehouse.importers.writer import Batch
from segassist.warehouse.language import detect_language

SOURCE = "olist"
# Each part: the subset's file name, then the full Kaggle release's.
FILES = {
    "customers": ("customers.csv", "olist_customers_dataset.csv"),
    "orders": ("orders.csv", "olist_orders_dataset.csv"),
    "items": ("order_items.csv", "olist_order_items_dataset.csv"),
    "products": ("products.csv", "olist_products_dataset.csv"),
    "reviews": ("reviews_matched.csv", "olist_order_reviews_dataset.csv"),
    "translation": ("category_translation.csv", "product_category_name_translation.csv"),
}
OPTIONAL = {"reviews", "translation"}
CANCELLED = {"canceled", "unavailable"}


def olist_files(folder: Path) -> dict[str, Path]:
    """Find the Olist CSVs in `folder`; raise naming the first one missing."""
    if not folder.is_dir():
        raise ImportValidationError(
            str(folder), "not a folder", expected="the folder holding the Olist CSV files"
        )
    found = {}
    for part, names in FILES.items():
        path = next((folder / n for n in names if (folder / n).is_file()), None)
        if path is not None:
            found[part] = path
        elif part not in OPTIONAL:
            raise ImportValidationError(
                str(folder / names[0]), "file not found", expected=f"{names[0]} or {names[1]}"
            )
    return found


def read_olist(folder: Path, limits: Limits | None = None) -> Batch:
    """Read an Olist CSV folder into a normalised batch."""
    limits = limits or Limits()
    files = olist_files(folder)
    people = _people(read_file(files["customers"]))
    orders = _orders(read_file(files["orders"]), people, limits)
    lines = _lines(read_file(files["items"]), set(orders["order_id"]), limits)
    translation = _translation(files.get("translation"))
    products = _products(read_file(files["products"]), lines, translation)
    batch = Batch(importer="olist", source=SOURCE, paths=list(files.values()))
    batch.rows_read = len(people) + len(orders) + len(lines) + len(products)
    batch.tables = {
        "customers": people.drop(columns=["olist_customer_id"]).drop_duplicates("customer_id"),
        "products": products,
        "orders": orders,
        "order_lines": lines,
        "value_names": _category_names(translation),
    }
    if "reviews" in files:
        review_file = read_file(files["reviews"])
        reviews = _reviews(review_file, orders, lines, batch, limits)
        batch.tables["reviews"] = reviews
        batch.rows_read += len(reviews)
        batch.notes += cleaning_notes([review_file])
    return batch


def _people(data: Located) -> pd.DataFrame:
    require_columns(data, ("customer_id", "customer_unique_id"))
    olist_id = parse_ids(data, "customer_id")
    require_unique(data, olist_id, "customer_id")
    frame = data.frame
    return pd.DataFrame(
        {
            "olist_customer_id": olist_id,
            "customer_id": parse_ids(data, "customer_unique_id"),
            "city": frame.get("customer_city"),
            "region": frame.get("customer_state"),
            "country": "Brazil",
            "source": SOURCE,
        }
    )


def _orders(data: Located, people: pd.DataFrame, limits: Limits) -> pd.DataFrame:
    require_columns(data, ("order_id", "customer_id", "order_status", "order_purchase_timestamp"))
    order_id = parse_ids(data, "order_id")
    require_unique(data, order_id, "order_id")
    person = parse_ids(data, "customer_id").map(
        people.set_index("olist_customer_id")["customer_id"]
    )
    unknown = person.isna().to_numpy().nonzero()[0]
    if len(unknown):
        raise data.error(
            int(unknown[0]),
            "order of an unknown customer",
            column="customer_id",
            expected="a customer_id listed in the customers file",
            found=data.frame["customer_id"].iloc[int(unknown[0])],
        )
    status = data.frame["order_status"].astype("string").str.strip().str.lower()
    return pd.DataFrame(
        {
            "order_id": order_id,
            "customer_id": person,
            "ordered_at": parse_datetimes(data, "order_purchase_timestamp", limits=limits),
            "status": status.replace({"canceled": "cancelled"}),
            "is_cancelled": status.isin(CANCELLED),
            "country": "Brazil",
            "source": SOURCE,
        }
    )


def _lines(data: Located, order_ids: set[str], limits: Limits) -> pd.DataFrame:
    require_columns(data, ("order_id", "order_item_id", "product_id", "price"))
    lines = pd.DataFrame(
        {
            "order_id": parse_ids(data, "order_id"),
            "line_no": parse_numbers(data, "order_item_id", integer=True),
            "product_id": parse_ids(data, "product_id"),
            "quantity": 1,
            "unit_price": parse_numbers(data, "price", bounds=limits.price),
            "is_return": False,
        }
    )
    orphan = (~lines["order_id"].isin(order_ids)).to_numpy().nonzero()[0]
    if len(orphan):
        raise data.error(
            int(orphan[0]),
            "item of an unknown order",
            column="order_id",
            expected="an order_id listed in the orders file",
            found=lines["order_id"].iloc[orphan[0]],
        )
    key = lines["order_id"] + "#" + lines["line_no"].astype("string")
    require_unique(data, key, "order_id+order_item_id")
    return lines


def _translation(path: Path | None) -> pd.Series:
    if path is None:
        return pd.Series(dtype="string")
    data = read_file(path)
    require_columns(data, ("product_category_name", "product_category_name_english"))
    return data.frame.set_index("product_category_name")["product_category_name_english"]


def _category_names(translation: pd.Series) -> pd.DataFrame:
    """The source's Portuguese category names for the English ones stored: a question
    naming "beleza_saude" is told the warehouse holds 'health_beauty'."""
    names = translation.dropna().astype(str)
    names = names[names.index.astype(str) != names]
    names = names[~names.index.duplicated()]
    return pd.DataFrame(
        {"column_name": "category", "name": names.index.astype(str), "value": names}
    )


def _products(data: Located, lines: pd.DataFrame, translation: pd.Series) -> pd.DataFrame:
    require_columns(data, ("product_id", "product_category_name"))
    product_id = parse_ids(data, "product_id")
    require_unique(data, product_id, "product_id")
    category = data.frame["product_category_name"].astype("string")
    products = pd.DataFrame(
        {
            "product_id": product_id,
            "category": category.map(translation).fillna(category),
            "source": SOURCE,
        }
    )
    products["price"] = products["product_id"].map(
        lines.groupby("product_id")["unit_price"].median()
    )
    missing = sorted(set(lines["product_id"]) - set(products["product_id"]))
    if missing:
        raise ImportValidationError(
            str(data.path),
            "products sold but not listed",
            column="product_id",
            expected="every product_id of the order items",
            found=missing[0],
        )
    return products


def _reviews(
    data: Located, orders: pd.DataFrame, lines: pd.DataFrame, batch: Batch, limits: Limits
) -> pd.DataFrame:
    require_columns(data, ("review_id", "order_id", "review_score", "review_creation_date"))
    order_id = parse_ids(data, "order_id")
    known = order_id.isin(set(orders["order_id"]))
    review_id = parse_ids(data, "review_id")
    reused = review_id.duplicated(keep=False)
    review_id = review_id.where(~reused, review_id + ":" + order_id)
    rating = parse_numbers(data, "review_score", integer=True)
    check_range(data, rating, "review_score", 1, 5)
    frame = data.frame
    single_product = lines.groupby("order_id")["product_id"].agg(
        lambda ids: ids.iloc[0] if ids.nunique() == 1 else None
    )
    text = clean_text(data, _column(frame, "review_comment_message"), markup=True)
    reviews = pd.DataFrame(
        {
            "review_id": review_id,
            "order_id": order_id,
            "customer_id": order_id.map(orders.set_index("order_id")["customer_id"]),
            "product_id": order_id.map(single_product),
            "rating": rating,
            "title": clean_text(data, _column(frame, "review_comment_title"), markup=True),
            "text": text,
            "language": text.map(lambda t: detect_language(t, default="pt")),
            "reviewed_at": parse_datetimes(data, "review_creation_date", limits=limits),
            "helpful_votes": 0,
            "total_votes": 0,
            "source": SOURCE,
        }
    )
    if (~known).any():
        batch.notes.append(
            f"{int((~known).sum())} reviews of orders not in the orders file skipped."
        )
    if reused.any():
        batch.notes.append(
            f"{int(reused.sum())} reviews share an id across orders; kept per order."
        )
    return reviews[known.to_numpy()]


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
