"""UCI Online Retail and Online Retail II: invoice lines of a UK online gift retailer.

Columns (II): Invoice, StockCode, Description, Quantity, InvoiceDate, Price,
Customer ID, Country. The 2010-2011 release names them InvoiceNo, UnitPrice
and CustomerID; any spelling that differs only in case, spaces or
underscores is recognised. Parquet, CSV (UTF-8, else Latin-1 as the widely
copied CSV is written) or the original .xlsx (every sheet). Choices,
documented in the README:

- An invoice starting with 'C' is a cancellation: its own order with
  status 'cancelled' and ``is_cancelled`` true; its lines (negative quantity)
  are kept and marked ``is_return``. 'A' invoices are bad-debt adjustments
  (status 'adjustment'). Any other negative quantity is also marked a return.
- Lines without a customer id (about a fifth) are kept as anonymous orders
  (``customer_id`` NULL), so revenue totals stay true; they just belong to
  no customer. The import reports how many there were.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
from segassist.core.errors import ImportValidationError
from segassist.warehouse.importers.cells import (
    Limits,
    clean_text,
    cleaning_notes,
    located_rows,
    parse_datetimes,
    parse_ids,
    parse_numbers,
    require_columns,
    require_one_customer_per_order,
)
from segassist.warehouse.importers.reading import Located, detect_format, read_file
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
# The 2010-2011 release's names for the same columns.
ALIASES = {"invoiceno": "Invoice", "unitprice": "Price", "customerid": "Customer ID"}
SOURCE = "online_retail"


def read_online_retail(paths: list[Path], limits: Limits | None = None) -> Batch:
    """Read Online Retail (either release) files into a normalised batch."""
    if not paths:
        raise ImportValidationError(
            "online-retail", "no files", expected="*.parquet, *.csv, *.xlsx or a folder"
        )
    batch = Batch(importer="online-retail", source=SOURCE, paths=list(paths))
    located = [_read(p, batch) for p in paths]
    frames = [_normalise_lines(d, limits or Limits()) for d in located]
    lines = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    batch.rows_read = len(lines)
    require_one_customer_per_order(lines, "order_id", "customer_id")
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
    batch.notes += cleaning_notes(located)
    return batch


def _read(path: Path, batch: Batch) -> Located:
    """The file, read as UTF-8 or, failing that, Latin-1; its columns renamed to II's."""
    try:
        data = read_file(path)
    except ImportValidationError as e:
        if e.problem != "bad text encoding":
            raise
        data = read_file(path, encoding="latin-1")
        batch.notes.append(f"{path.name} is not UTF-8: read as Latin-1.")
    if detect_format(path) == "csv" and len(data.frame.columns) == 1:
        data = read_file(path, delimiter=";")
    key = {c: "".join(str(c).lower().split()).replace("_", "") for c in data.frame.columns}
    canonical = {"".join(c.lower().split()): c for c in COLUMNS}
    canonical.update(ALIASES)
    renamed = {c: canonical[k] for c, k in key.items() if k in canonical and c != canonical[k]}
    return replace(data, frame=data.frame.rename(columns=renamed)) if renamed else data


def _normalise_lines(data: Located, limits: Limits) -> pd.DataFrame:
    require_columns(data, COLUMNS)
    lines = pd.DataFrame(
        {
            "order_id": parse_ids(data, "Invoice"),
            "product_id": parse_ids(data, "StockCode"),
            "description": clean_text(data, data.frame["Description"]),
            "quantity": parse_numbers(data, "Quantity", integer=True, bounds=limits.quantity),
            "ordered_at": parse_datetimes(data, "InvoiceDate", limits=limits),
            "unit_price": parse_numbers(data, "Price", bounds=limits.price),
            "customer_id": parse_ids(data, "Customer ID", required=False),
            "country": clean_text(data, data.frame["Country"]),
        }
    )
    return located_rows(data, lines)


def _orders(lines: pd.DataFrame, batch: Batch) -> pd.DataFrame:
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
