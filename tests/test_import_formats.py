"""The public formats people bring, each from a small fixture written here, on SQLite and
PostgreSQL: Amazon 2014/2018/2023 reviews in every JSON layout plus product metadata, both
UCI Online Retail releases, relative-time order logs, line totals and product files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import scalar
from segassist.warehouse.importers import import_dataset, import_files


def _review_2018(reviewer, asin, time, text, **extra) -> dict:
    return {
        "overall": 5.0,
        "verified": True,
        "reviewTime": "01 2, 2017",
        "reviewerID": reviewer,
        "asin": asin,
        "style": {"Size:": " Large"},
        "reviewerName": "A. Player",
        "reviewText": text,
        "summary": "Five Stars",
        "unixReviewTime": time,
        **extra,
    }


REVIEWS_2018 = [
    _review_2018(
        "R1", "P1", 1483315200, "Great &#34;audiophile&#34; sound.<br />Buy it.", vote="1,341"
    ),
    _review_2018("R1", "P2", 1483401600, "Strings rust fast.", overall=2.0, vote="3"),
    _review_2018("R2", "P1", 1483488000, "Fine.", image=["https://example.com/a.jpg"]),
    # The 2018 files repeat a reviewer+product: the later review wins, with its order.
    _review_2018("R1", "P2", 1486080000, "Update: they rust in a week.", overall=1.0),
    _review_2018("R3", "P3", 1486166400, "Nice case."),
]


def _write_gz_lines(path: Path, records: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    return path


def test_amazon_2018_lines_votes_duplicates_and_html(engine, tmp_path):
    path = _write_gz_lines(tmp_path / "Musical_Instruments_5.json.gz", REVIEWS_2018)
    result = import_dataset(engine, "amazon", [path])

    assert result.rows_written["reviews"] == 4
    assert result.rows_written["order_lines"] == 4  # never a line without its review
    assert any("1 repeated reviews" in n for n in result.notes)
    assert scalar(engine, "SELECT helpful_votes FROM reviews WHERE review_id = 'R1-P1'") == 1341
    assert scalar(engine, "SELECT text FROM reviews WHERE review_id = 'R1-P2'") == (
        "Update: they rust in a week."
    )
    assert scalar(engine, "SELECT rating FROM reviews WHERE review_id = 'R1-P2'") == 1
    assert scalar(engine, "SELECT text FROM reviews WHERE review_id = 'R1-P1'") == (
        'Great "audiophile" sound.\nBuy it.'
    )
    assert scalar(engine, "SELECT category FROM products WHERE product_id = 'P3'") == (
        "Musical Instruments"
    )


@pytest.mark.parametrize("layout", ["array", "pretty", "pretty-array"])
def test_amazon_json_layouts_read_alike(sqlite_engine, tmp_path, layout):
    if layout == "array":
        text = json.dumps(REVIEWS_2018)
    elif layout == "pretty":
        text = "\n".join(json.dumps(r, indent=2) for r in REVIEWS_2018)
    else:
        text = json.dumps(REVIEWS_2018, indent=4)
    path = tmp_path / "Toys.json"
    path.write_text(text, encoding="utf-8")
    result = import_dataset(sqlite_engine, "amazon", [path])
    assert result.rows_written["reviews"] == 4
    assert (
        scalar(sqlite_engine, "SELECT SUM(helpful_votes) FROM reviews") == 1341
    )  # R1-P2 (3 votes) was replaced


def test_amazon_layout_error_names_the_line(sqlite_engine, tmp_path):
    from segassist.core.errors import ImportValidationError

    text = "\n".join(json.dumps(r, indent=2) for r in REVIEWS_2018[:2])
    broken = text + '\n{\n  "overall": 5.0,\n  "reviewerID": oops\n}\n'
    path = tmp_path / "Toys.json"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ImportValidationError) as info:
        import_dataset(sqlite_engine, "amazon", [path])
    assert info.value.line == broken.splitlines().index('  "reviewerID": oops') + 1


def test_amazon_2023_release(engine, tmp_path):
    records = [
        {
            "rating": 4.0,
            "title": "Good pick",
            "text": "Works &amp; sounds fine",
            "asin": "B01",
            "parent_asin": "B00PARENT",
            "user_id": "U1",
            "timestamp": 1588687728923,
            "helpful_vote": 2,
            "verified_purchase": True,
        },
        {
            "rating": 1.0,
            "title": "Broke",
            "text": "Snapped on day two",
            "asin": "B02",
            "parent_asin": "B00OTHER",
            "user_id": "U1",
            "timestamp": 1591687728923,
            "helpful_vote": 0,
            "verified_purchase": False,
        },
    ]
    path = tmp_path / "Musical_Instruments.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    result = import_dataset(engine, "amazon", [path])
    assert result.rows_written["reviews"] == 2
    assert scalar(engine, "SELECT COUNT(*) FROM reviews WHERE product_id = 'B00PARENT'") == 1
    first = pd.Timestamp(scalar(engine, "SELECT MIN(reviewed_at) FROM reviews"))
    assert first.date().isoformat() == "2020-05-05"  # milliseconds, not seconds
    assert scalar(engine, "SELECT text FROM reviews WHERE rating = 4") == "Works & sounds fine"


META_2018 = [
    {
        "category": ["Musical Instruments", "Instrument Accessories", "Strings &amp; Picks"],
        "title": "Nickel Strings &amp; More",
        "brand": "StringCo",
        "price": "$1,250.00",
        "asin": "P2",
    },
    {"category": [], "title": "A case", "brand": "", "price": "$10.99 - $15.99", "asin": "P3"},
    {"category": ["Musical Instruments"], "title": "Unreviewed", "asin": "P9", "price": ""},
    {"title": "Euro-priced", "asin": "P10", "price": "€12,50"},  # not one US amount: empty
]


def test_amazon_metadata_updates_reviewed_products(engine, tmp_path):
    reviews = _write_gz_lines(tmp_path / "Musical_Instruments_5.json.gz", REVIEWS_2018)
    import_dataset(engine, "amazon", [reviews])
    meta = _write_gz_lines(tmp_path / "meta_Musical_Instruments.json.gz", META_2018)
    result = import_dataset(engine, "amazon", [meta])

    assert result.rows_written.get("products") == 2  # P9 and P10 are new
    assert any("2 stored products updated" in n for n in result.notes)
    assert any("2 metadata prices were not one amount" in n for n in result.notes)
    row = "SELECT {} FROM products WHERE product_id = 'P2'"
    assert scalar(engine, row.format("title")) == "Nickel Strings & More"
    assert scalar(engine, row.format("price")) == 1250.0
    assert scalar(engine, row.format("brand")) == "StringCo"
    assert scalar(engine, row.format("category")) == (
        "Musical Instruments > Instrument Accessories > Strings & Picks"
    )
    # P3's metadata has no category or price: what was stored stays.
    assert scalar(engine, "SELECT category FROM products WHERE product_id = 'P3'") == (
        "Musical Instruments"
    )
    assert scalar(engine, "SELECT price FROM products WHERE product_id = 'P3'") is None


def test_amazon_2014_metadata_python_literals(sqlite_engine, tmp_path):
    lines = [
        "{'asin': 'P1', 'title': 'Tuner', 'price': 12.5, 'categories': "
        "[['Musical Instruments', 'Tuners'], ['Electronics']], 'brand': 'Snark'}",
        "{'asin': 'P4', 'salesRank': {'Musical Instruments': 3}, 'categories': [['Toys']]}",
    ]
    path = tmp_path / "meta_Musical_Instruments.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_dataset(sqlite_engine, "amazon", [path])
    assert scalar(sqlite_engine, "SELECT category FROM products WHERE product_id = 'P1'") == (
        "Musical Instruments > Tuners"
    )
    assert scalar(sqlite_engine, "SELECT price FROM products WHERE product_id = 'P1'") == 12.5


RETAIL_2011 = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,"
    "United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom\n"
    "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,,United Kingdom\n"
    "C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527.0,United Kingdom\n"
    "536380,22961,JAM MAKING SET PRINTED,24,12/13/2010 9:41,1.45,12583.0,France\n"
    "536381,21731,CAF\xc9 SET,2,1/4/2011 10:00,4.95,12583.0,France\n"
)


def test_online_retail_2010_2011_csv(engine, tmp_path):
    path = tmp_path / "Online Retail.csv"
    path.write_bytes(RETAIL_2011.encode("latin-1"))
    result = import_dataset(engine, "online-retail", [path])

    assert result.rows_written["order_lines"] == 6
    assert result.rows_written["customers"] == 3
    assert any("1 lines without a customer id" in n for n in result.notes)
    assert any("read as Latin-1" in n for n in result.notes)
    assert scalar(engine, "SELECT customer_id FROM orders WHERE order_id = '536365'") == "17850"
    assert scalar(engine, "SELECT status FROM orders WHERE order_id = 'C536379'") == "cancelled"
    assert scalar(engine, "SELECT title FROM products WHERE product_id = '21731'") == "CAFÉ SET"
    when = pd.Timestamp(scalar(engine, "SELECT ordered_at FROM orders WHERE order_id = '536380'"))
    assert when == pd.Timestamp("2010-12-13 09:41")  # month first, as the file writes it


def test_online_retail_xlsx_reads_every_sheet(sqlite_engine, tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(RETAIL_2011), dtype={"CustomerID": float})
    path = tmp_path / "online_retail_II.xlsx"
    with pd.ExcelWriter(path) as writer:
        frame.iloc[:3].to_excel(writer, sheet_name="Year 2009-2010", index=False)
        frame.iloc[3:].to_excel(writer, sheet_name="Year 2010-2011", index=False)
    result = import_dataset(sqlite_engine, "online-retail", [path])
    assert result.rows_written["order_lines"] == 6


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


INSTACART_ORDERS = """\
order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order
2539329,1,prior,1,2,08,
2398795,1,prior,2,3,07,15.0
473747,1,prior,3,3,12,21.0
2254736,2,prior,1,4,07,
431534,2,prior,2,4,15,28.0
"""
INSTACART_LINES = """order_id,product_id,add_to_cart_order,reordered
2539329,196,1,0
2539329,14084,2,0
2398795,196,1,1
473747,196,1,1
473747,12427,2,0
2254736,12427,1,0
431534,14084,1,1
"""
INSTACART_PRODUCTS = """product_id,product_name,aisle_id,department_id
196,Soda,77,7
14084,Organic Vanilla Almond Milk,91,16
12427,Original Beef Jerky,23,19
"""


def test_relative_time_order_log_in_three_files(engine, tmp_path):
    orders = _write(tmp_path, "orders.csv", INSTACART_ORDERS)
    orders_map = _write(
        tmp_path,
        "orders.toml",
        'source = "instacart"\nanchor_date = "2017-01-01"\n[columns]\ncustomer = "user_id"\n'
        'order = "order_id"\norder_number = "order_number"\n'
        'days_since_prior = "days_since_prior_order"\nhour = "order_hour_of_day"\n',
    )
    result = import_files(engine, [orders], orders_map)
    assert result.rows_written == {"customers": 2, "orders": 5}
    assert any("anchor date 2017-01-01" in n for n in result.notes)

    products = _write(tmp_path, "products.csv", INSTACART_PRODUCTS)
    products_map = _write(
        tmp_path,
        "products.toml",
        'source = "instacart"\nkind = "products"\n[columns]\nproduct = "product_id"\n'
        'product_title = "product_name"\ncategory = "department_id"\n',
    )
    assert import_files(engine, [products], products_map).rows_written == {"products": 3}

    lines = _write(tmp_path, "order_products.csv", INSTACART_LINES)
    lines_map = _write(
        tmp_path,
        "lines.toml",
        'source = "instacart"\nkind = "order_lines"\n[columns]\norder = "order_id"\n'
        'product = "product_id"\nline_no = "add_to_cart_order"\n',
    )
    assert import_files(engine, [lines], lines_map).rows_written["order_lines"] == 7

    def ordered(order_id: str) -> pd.Timestamp:
        sql = "SELECT ordered_at FROM orders WHERE order_id = :o"
        return pd.Timestamp(scalar(engine, sql, o=order_id))

    assert ordered("2539329") == pd.Timestamp("2017-01-01 08:00")
    assert ordered("2398795") == pd.Timestamp("2017-01-16 07:00")
    assert ordered("473747") == pd.Timestamp("2017-02-06 12:00")
    assert ordered("431534") == pd.Timestamp("2017-01-29 15:00")
    assert scalar(engine, "SELECT title FROM products WHERE product_id = '196'") == "Soda"
    assert scalar(engine, "SELECT COUNT(*) FROM order_lines WHERE product_id = '196'") == 3


def test_whitespace_log_with_line_totals(engine, tmp_path):
    log = _write(
        tmp_path,
        "cdnow.txt",
        "00001 19970101 1 11.77\n00002 19970112 1 12.00\n00002 19970112 5 77.00\n"
        "00003 19970102 2 20.76\n00003 19970330 2 20.76\n",
    )
    header = "customer date units amount\n"
    log.write_text(header + log.read_text())
    mapping = _write(
        tmp_path,
        "cdnow.toml",
        'source = "cdnow"\ndelimiter = "\\\\s+"\ntime_format = "%Y%m%d"\n'
        '[columns]\ncustomer = "customer"\ntime = "date"\nquantity = "units"\namount = "amount"\n',
    )
    result = import_files(engine, [log], mapping)
    assert result.rows_written["order_lines"] == 5
    assert result.rows_written["orders"] == 4
    revenue = scalar(engine, "SELECT SUM(quantity * unit_price) FROM order_lines")
    assert revenue == pytest.approx(11.77 + 12 + 77 + 20.76 * 2)
    assert scalar(engine, "SELECT customer_id FROM customers WHERE customer_id = '00001'")


def test_product_file_with_currency_and_thousands(engine, tmp_path):
    catalogue = _write(
        tmp_path,
        "catalogue.csv",
        'sku,name,price,brand,path\nA1,Grand piano,"$12,500.00",Steinway,Music|Pianos\n'
        "B2,Pick,R$ 1.50,Fender,Music|Picks\n",
    )
    mapping = _write(
        tmp_path,
        "catalogue.toml",
        'source = "shop"\nkind = "products"\nthousands = ","\n[columns]\nproduct = "sku"\n'
        'product_title = "name"\nprice = "price"\nbrand = "brand"\ncategory = "path"\n',
    )
    assert import_files(engine, [catalogue], mapping).rows_written == {"products": 2}
    assert scalar(engine, "SELECT price FROM products WHERE product_id = 'A1'") == 12500.0
    assert scalar(engine, "SELECT price FROM products WHERE product_id = 'B2'") == 1.5
    assert scalar(engine, "SELECT brand FROM products WHERE product_id = 'B2'") == "Fender"


def test_files_repeated_reviews_do_not_inflate_units(engine, tmp_path):
    rows = [
        {"user": "c1", "item": "p1", "stars": 5, "when": "2024-01-10", "body": "Good"},
        {"user": "c1", "item": "p2", "stars": 4, "when": "2024-02-10", "body": "Fine"},
        {"user": "c1", "item": "p1", "stars": 5, "when": "2024-01-10", "body": "Good"},
        {"user": "c1", "item": "p3", "stars": 3, "when": "2024-03-10", "body": "Meh"},
        {"user": "c1", "item": "p4", "stars": 5, "when": "2024-04-10", "body": "Great"},
    ]
    path = _write(tmp_path, "reviews.jsonl", "\n".join(json.dumps(r) for r in rows))
    mapping = _write(
        tmp_path,
        "reviews.toml",
        'source = "shop"\n[columns]\ncustomer = "user"\nproduct = "item"\nrating = "stars"\n'
        'time = "when"\ntext = "body"\n',
    )
    result = import_files(engine, [path], mapping)
    assert result.rows_written["reviews"] == 4
    assert scalar(engine, "SELECT SUM(quantity) FROM order_lines") == 4
    assert any("1 repeated reviews" in n for n in result.notes)


def test_thousands_in_every_numeric_column(sqlite_engine, tmp_path):
    sales = _write(
        tmp_path,
        "sales.csv",
        'cust,when,sku,qty,price\nc1,2024-01-01,a,"1,200","1,000.50"\nc2,2024-01-02,b,3,2.00\n',
    )
    mapping = _write(
        tmp_path,
        "sales.toml",
        'source = "s"\nthousands = ","\n[columns]\ncustomer = "cust"\ntime = "when"\n'
        'product = "sku"\nquantity = "qty"\nprice = "price"\n',
    )
    import_files(sqlite_engine, [sales], mapping)
    assert scalar(sqlite_engine, "SELECT quantity FROM order_lines WHERE product_id = 'a'") == 1200
    assert scalar(sqlite_engine, "SELECT unit_price FROM order_lines WHERE product_id = 'a'") == (
        1000.5
    )


def test_files_keep_anonymous_order_lines(engine, tmp_path):
    """The 2010-2011 Online Retail layout through a mapping: lines without a customer are
    anonymous sales, kept in revenue."""
    path = tmp_path / "retail.csv"
    path.write_bytes(RETAIL_2011.encode("latin-1"))
    mapping = _write(
        tmp_path,
        "retail.toml",
        'source = "uk"\nencoding = "latin-1"\ncancelled_order_prefix = "C"\n[columns]\n'
        'order = "InvoiceNo"\nproduct = "StockCode"\nproduct_title = "Description"\n'
        'quantity = "Quantity"\ntime = "InvoiceDate"\nprice = "UnitPrice"\n'
        'customer = "CustomerID"\ncountry = "Country"\n',
    )
    result = import_files(engine, [path], mapping)
    assert result.rows_written["order_lines"] == 6
    assert result.rows_written["customers"] == 3
    assert any("1 lines without a customer" in n for n in result.notes)
    assert scalar(engine, "SELECT COUNT(*) FROM orders WHERE customer_id IS NULL") == 1
