"""UCI Online Retail II: invoice lines of a UK online gift retailer.

Columns: Invoice, StockCode, Description, Quantity, InvoiceDate, Price,
Customer ID, Country. Choices, documented in the README:

- An invoice starting with 'C' is a cancellation: its own order with
  status 'cancelled' and ``is_cancelled`` true; its lines (negative quantity)
  are kept and marked ``is_return``. 'A' invoices are bad-debt adjustments
  (status 'adjustment'). Any other negative quantity is also marked a return.
- Lines without a customer id (about a fifth) are kept as anonymous orders
  (``customer_id`` NULL), so revenue totals stay true; they just belong to
  no customer. The import reports how many there were.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from segassist.warehouse.importers.reading import (
    Located,
    parse_datetimes,
    parse_ids,
    parse_numbers,
    read_file,
    require_columns,
)
from segassist.warehouse.importers.writer import Batch

COLUMNS = (
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
)
SOURCE = "online_retail"


def read_online_retail(paths: list[Path]) -> Batch:
    """Read Online Retail II files (Parquet or CSV) into a normalised batch."""
    frames = [_normalise_lines(read_file(p)) for p in paths]
    lines = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    batch = Batch(importer="online-retail", source=SOURCE, paths=list(paths), rows_read=len(lines))
    orders = _orders(lines, batch)
    lines["line_no"] = lines.groupby("order_id", sort=False).cumcount() + 1
    lines["is_return"] = (lines["quantity"] < 0) | lines["order_id"].str.startswith("C")
    batch.tables = {
        "customers": _customers(lines),
        "products": _products(lines),
        "orders": orders,
        "order_lines": lines[
            [
                "order_id",
                "line_no",
                "product_id",
                "description",
                "quantity",
                "unit_price",
                "is_return",
            ]
        ],
    }
    anonymous = int(lines["customer_id"].isna().sum())
    batch.notes.append(
        f"{anonymous:,} lines without a customer id kept as anonymous orders "
        "(customer_id NULL; they count in revenue, not in any customer)."
    )
    cancelled = int(orders["is_cancelled"].sum())
    batch.notes.append(f"{cancelled:,} cancellation invoices (starting with 'C') kept and marked.")
    return batch


def _normalise_lines(data: Located) -> pd.DataFrame:
    require_columns(data, COLUMNS)
    return pd.DataFrame(
        {
            "order_id": parse_ids(data, "Invoice"),
            "product_id": parse_ids(data, "StockCode"),
            "description": data.frame["Description"].astype("string").str.strip(),
            "quantity": parse_numbers(data, "Quantity", integer=True),
            "ordered_at": parse_datetimes(data, "InvoiceDate"),
            "unit_price": parse_numbers(data, "Price"),
            "customer_id": parse_ids(data, "Customer ID", required=False),
            "country": data.frame["Country"].astype("string").str.strip(),
        }
    )


def _check_one_customer_per_invoice(lines: pd.DataFrame) -> None:
    known = lines.dropna(subset=["customer_id"])
    counts = known.groupby("order_id", sort=False)["customer_id"].nunique()
    clashes = counts[counts > 1]
    if len(clashes):
        from segassist.core.errors import UserInputError

        invoice = clashes.index[0]
        raise UserInputError(
            f"Invoice {invoice} names {clashes.iloc[0]} different customers; an invoice "
            "must belong to one customer. Fix the file's 'Customer ID' column."
        )


def _orders(lines: pd.DataFrame, batch: Batch) -> pd.DataFrame:
    _check_one_customer_per_invoice(lines)
    grouped = lines.groupby("order_id", sort=False)
    orders = pd.DataFrame(
        {
            "customer_id": grouped["customer_id"].first(),
            "ordered_at": grouped["ordered_at"].min(),
            "country": grouped["country"].first(),
        }
    ).reset_index()
    prefix = orders["order_id"].str[0]
    orders["is_cancelled"] = prefix == "C"
    orders["status"] = "completed"
    orders.loc[orders["is_cancelled"], "status"] = "cancelled"
    orders.loc[prefix == "A", "status"] = "adjustment"
    orders["source"] = SOURCE
    return orders


def _most_common(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """Most frequent non-null `value` per `key` (ties: first seen)."""
    counts = frame.dropna(subset=[value]).groupby([key, value], sort=False).size()
    counts = counts.reset_index(name="n").sort_values("n", ascending=False, kind="stable")
    return counts.drop_duplicates(key).set_index(key)[value]


def _customers(lines: pd.DataFrame) -> pd.DataFrame:
    known = lines.dropna(subset=["customer_id"])
    customers = pd.DataFrame({"customer_id": known["customer_id"].unique()})
    customers["country"] = customers["customer_id"].map(
        _most_common(known, "customer_id", "country")
    )
    customers["source"] = SOURCE
    return customers


def _products(lines: pd.DataFrame) -> pd.DataFrame:
    products = pd.DataFrame({"product_id": lines["product_id"].unique()})
    products["title"] = products["product_id"].map(_most_common(lines, "product_id", "description"))
    sold = lines[(lines["quantity"] > 0) & (lines["unit_price"] > 0)]
    products["price"] = products["product_id"].map(
        sold.groupby("product_id")["unit_price"].median()
    )
    products["source"] = SOURCE
    return products
