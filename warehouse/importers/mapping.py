"""Bring your own data: CSV, Parquet, Excel or JSON files plus a mapping file.

The mapping (TOML or YAML) names which of the file's columns hold what; every
file given with one mapping has the same shape. Example (TOML)::

    source = "myshop"              # data set name stored with every row
    # format = "csv"               # default: from the file extension
    # encoding = "utf-8"
    # delimiter = ";"              # or "\\s+" for whitespace-separated columns
    # decimal = ","                # for numbers written 1.234,50
    # thousands = ","              # for numbers written 1,234.50 or "$1,250.00"
    # time_format = "%d/%m/%Y %H:%M"   # default: ISO-like dates are guessed
    # language = "pt"              # default language of the text columns
    # cancelled_order_prefix = "C" # orders whose id starts so are cancellations
    # kind = "support"             # see below
    # anchor_date = "2017-01-01"   # with relative times (see below)

    [columns]
    customer = "client_id"         # required (except kind products / order_lines);
                                   # blank on order lines: an anonymous sale, kept
    time = "purchased_at"          # required, unless times are relative
    product = "sku"
    order = "invoice_no"           # default: one order per customer and time
    quantity = "qty"               # default: 1
    price = "unit_price"
    amount = "line_total"          # a line's total; unit price = amount / quantity
    category = "category"
    product_title = "item_name"
    brand = "brand"
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
    line_no = "position"           # an order line's number within its order

    [limits]                       # plausible ranges; values outside are refused
    price = [0, 50000]
    dates = ["2000-01-01", "2030-12-31"]

What the rows become follows from `kind` and the columns mapped:

- ``kind = "support"``: support messages (`text`, `title` as the subject,
  `order`, `channel`, `message_id`).
- ``kind = "products"``: product metadata by `product` id (`product_title`,
  `price`, `category` (a list becomes the path "A > B > C"), `brand`); stored
  products with the same id are updated with the new non-empty values.
- ``kind = "order_lines"``: lines of orders imported before (`order`,
  `product`, `quantity`, `price` or `amount`, `line_no`), as in files that keep
  order headers and their items apart (Instacart's order_products).
- with `event_type`: browsing events (`text` is the search query);
- with `quantity`, `price`, `amount` or `product` besides `order`: order
  lines; with `order` alone, orders without lines;
- rows with a `rating` or `text` are also reviews. A file of reviews with no
  order columns (like Amazon's) records each review as a one-unit purchase,
  unless `reviews_are_purchases = false`. The same review twice (same
  `review_id`, or same customer, product and time) is kept once, with one
  purchase, and counted.

Relative times (order logs without dates): set `anchor_date` and map either
`day_offset` (days since the anchor, like Dunnhumby's DAY) or `order_number`
plus `days_since_prior` (Instacart: each customer's first order falls on the
anchor, each later one the given days after the one before); `hour`
(0-23) adds the time of day.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from segassist.core.errors import MappingError, UserInputError
from segassist.warehouse.importers.cells import Limits
from segassist.warehouse.importers.reading import FORMATS, check_encoding

ROLES = (
    "customer",
    "time",
    "product",
    "order",
    "quantity",
    "price",
    "amount",
    "category",
    "product_title",
    "brand",
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
    "line_no",
    "day_offset",
    "order_number",
    "days_since_prior",
    "hour",
)
# Roles whose cells are kept as text (blank = missing); review text is also un-HTML'd.
TEXT_ROLES = (
    "category",
    "product_title",
    "brand",
    "text",
    "title",
    "customer_name",
    "country",
    "event_type",
    "channel",
)
MARKUP_ROLES = ("text", "title", "product_title")
RELATIVE_ROLES = ("day_offset", "order_number", "days_since_prior", "hour")
KINDS = (None, "support", "products", "order_lines")
# Text options and what each may hold.
TEXT_OPTIONS = ("format", "encoding", "delimiter", "decimal", "thousands", "time_format")
OPTIONS = {
    "source",
    *TEXT_OPTIONS,
    "language",
    "cancelled_order_prefix",
    "reviews_are_purchases",
    "kind",
    "anchor_date",
    "columns",
    "limits",
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
    thousands: str | None = None
    time_format: str | None = None
    language: str = "und"
    cancelled_order_prefix: str | None = None
    reviews_are_purchases: bool | None = None
    kind: str | None = None
    anchor_date: datetime | None = None
    limits: Limits = field(default_factory=Limits)
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
    if not all(isinstance(v, str) and v for v in columns.values()):
        raise MappingError(f"{path}: every [columns] value must be a column name (text).")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 32:
        raise MappingError(f"{path}: 'source' must name the data set (1-32 characters).")
    if raw.get("kind") not in KINDS:
        raise MappingError(f"{path}: 'kind' must be one of {KINDS[1:]} (or left out).")
    if raw.get("format") not in (None, *FORMATS):
        raise MappingError(f"{path}: 'format' must be one of {FORMATS}.")
    options = _check_options(path, raw)
    _check_required(path, columns, raw.get("kind"), options.get("anchor_date"))
    return Mapping(source=source.strip(), columns=dict(columns), path=path, **options)


def _check_options(path: Path, raw: dict) -> dict:
    """The options other than columns and source, type-checked."""
    options = {k: v for k, v in raw.items() if k not in ("columns", "source")}
    for key in (*TEXT_OPTIONS, "language", "cancelled_order_prefix"):
        value = options.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise MappingError(f"{path}: '{key}' must be text, found {value!r}.")
    if "encoding" in options:
        try:
            check_encoding(options["encoding"], str(path))
        except UserInputError as e:
            raise MappingError(str(e)) from None
    if options.get("decimal", ".") not in (".", ","):
        raise MappingError(f'{path}: \'decimal\' must be "." or ",".')
    if options.get("thousands") not in (None, ",", ".", " ", "'", "_"):
        raise MappingError(f'{path}: \'thousands\' must be one of "," "." " " "\'" "_".')
    if options.get("thousands") and options.get("thousands") == options.get("decimal", "."):
        raise MappingError(f"{path}: 'thousands' and 'decimal' must differ.")
    if not isinstance(options.get("reviews_are_purchases", True), bool):
        raise MappingError(f"{path}: 'reviews_are_purchases' must be true or false.")
    if "anchor_date" in options:
        try:
            options["anchor_date"] = pd.Timestamp(str(options["anchor_date"])).to_pydatetime()
        except ValueError:
            raise MappingError(
                f"{path}: 'anchor_date' must be a date like 2017-01-01, "
                f"found {str(options['anchor_date'])[:40]!r}."
            ) from None
    limits = options.get("limits", {})
    if not isinstance(limits, dict):
        raise MappingError(f"{path}: [limits] must be a table like price = [0, 5000].")
    try:
        options["limits"] = Limits.parse(limits, str(path))
    except UserInputError as e:
        raise MappingError(str(e)) from None
    return options


def _check_required(path: Path, columns: dict, kind: str | None, anchor) -> None:
    relative = [r for r in RELATIVE_ROLES if r in columns]
    if relative and anchor is None:
        raise MappingError(f"{path}: {relative[0]!r} needs 'anchor_date' (e.g. \"2017-01-01\").")
    if kind == "products":
        required = ("product",)
    elif kind == "order_lines":
        required = ("order",)
    else:
        required = ("customer",) if anchor is not None else ("customer", "time")
    for role in required:
        if role not in columns:
            raise MappingError(f"{path}: [columns] must name the '{role}' column.")
    offsets = "day_offset" in columns or {"order_number", "days_since_prior"} <= set(columns)
    if anchor is not None and kind in (None, "support") and not offsets:
        raise MappingError(
            f"{path}: with 'anchor_date', map 'day_offset', or 'order_number' and "
            "'days_since_prior'."
        )


def _parse_mapping_text(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not UTF-8 text; save the mapping file as UTF-8.") from None
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
