"""Bring your own data: shapes and column names segassist has never seen."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import scalar
from segassist.core.errors import ImportValidationError, MappingError
from segassist.warehouse.importers import import_files

SALES = """cliente;pedido;sku;produto;categoria;qtd;preco;data;pais
c1;P-1;sku-a;Caneca azul;cozinha;2;10,50;03/01/2024 10:15;Portugal
c1;P-1;sku-b;Prato;cozinha;1;7,00;03/01/2024 10:15;Portugal
c2;P-2;sku-a;Caneca azul;cozinha;1;10,50;15/02/2024 09:00;Brasil
c2;XP-2;sku-a;Caneca azul;cozinha;-1;10,50;20/02/2024 09:00;Brasil
c3;P-3;sku-c;Toalha;banho;3;4,25;01/03/2024 18:30;Portugal
"""

SALES_MAPPING = """
source = "lojinha"
delimiter = ";"
decimal = ","
time_format = "%d/%m/%Y %H:%M"
cancelled_order_prefix = "X"

[columns]
customer = "cliente"
order = "pedido"
product = "sku"
product_title = "produto"
category = "categoria"
quantity = "qtd"
price = "preco"
time = "data"
country = "pais"
"""

OPINIONS = [
    {
        "user": "c1",
        "item": "sku-a",
        "stars": 5,
        "when": "2024-01-10T08:00:00Z",
        "comment": "A caneca chegou antes do prazo, muito boa, recomendo!",
        "no": "r1",
    },
    {
        "user": "c2",
        "item": "sku-a",
        "stars": 2,
        "when": "2024-02-21T08:00:00Z",
        "comment": "质量很差，杯子有裂缝，我要退货。",
        "no": "r2",
    },
    {
        "user": "c4",
        "item": "sku-b",
        "stars": 4,
        "when": "2024-03-02T08:00:00Z",
        "comment": "The plate is sturdy and looks great on the table.",
        "no": "r3",
    },
]

OPINIONS_MAPPING = """\
source: lojinha
columns:
  customer: user
  product: item
  rating: stars
  text: comment
  time: when
  review_id: "no"
"""


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_transactions_csv_with_own_column_names(engine, tmp_path):
    sales = _write(tmp_path, "vendas.csv", SALES)
    mapping = _write(tmp_path, "vendas.toml", SALES_MAPPING)
    result = import_files(engine, [sales], mapping)

    assert result.rows_written == {
        "customers": 3,
        "products": 3,
        "orders": 4,
        "order_lines": 5,
    }
    assert scalar(engine, "SELECT SUM(quantity * unit_price) FROM order_lines") == pytest.approx(
        2 * 10.5 + 7 + 10.5 - 10.5 + 3 * 4.25
    )
    assert scalar(engine, "SELECT COUNT(*) FROM order_lines WHERE order_id = 'P-1'") == 2
    assert scalar(engine, "SELECT status FROM orders WHERE order_id = 'XP-2'") == "cancelled"
    assert scalar(engine, "SELECT COUNT(*) FROM order_lines WHERE is_return") == 1
    assert scalar(engine, "SELECT ordered_at FROM orders WHERE order_id = 'P-2'") in (
        "2024-02-15 09:00:00.000000",
        pd.Timestamp("2024-02-15 09:00").to_pydatetime(),
    )
    assert scalar(engine, "SELECT title FROM products WHERE product_id = 'sku-c'") == "Toalha"
    assert scalar(engine, "SELECT country FROM customers WHERE customer_id = 'c2'") == "Brasil"
    assert scalar(engine, "SELECT source FROM customers WHERE customer_id = 'c3'") == "lojinha"

    again = import_files(engine, [sales], mapping)
    assert again.skipped


def test_reviews_jsonl_with_yaml_mapping_detects_languages(engine, tmp_path):
    opinions = _write(
        tmp_path, "opinions.jsonl", "\n".join(json.dumps(o, ensure_ascii=False) for o in OPINIONS)
    )
    mapping = _write(tmp_path, "opinions.yaml", OPINIONS_MAPPING)
    result = import_files(engine, [opinions], mapping)

    assert result.rows_written["reviews"] == 3
    languages = {
        rid: scalar(engine, "SELECT language FROM reviews WHERE review_id = :r", r=rid)
        for rid in ("r1", "r2", "r3")
    }
    assert languages == {"r1": "pt", "r2": "zh", "r3": "en"}
    assert (
        scalar(engine, "SELECT text FROM reviews WHERE review_id = 'r2'") == OPINIONS[1]["comment"]
    )
    # With no order columns, each review is a one-unit purchase (as for Amazon).
    assert scalar(engine, "SELECT COUNT(*) FROM orders") == 3
    assert scalar(engine, "SELECT COUNT(*) FROM reviews WHERE order_id IS NULL") == 0


def test_events_parquet(engine, tmp_path):
    clicks = pd.DataFrame(
        {
            "uid": ["u1", "u1", "u2"],
            "ts": pd.to_datetime(["2024-05-01 10:00", "2024-05-01 10:01", "2024-05-02 11:00"]),
            "action": ["VIEW", "cart", "search"],
            "item": ["p1", "p1", None],
            "q": [None, None, "blue mug"],
        }
    )
    path = tmp_path / "clicks.parquet"
    clicks.to_parquet(path)
    mapping = _write(
        tmp_path,
        "clicks.toml",
        'source = "web"\n[columns]\ncustomer = "uid"\ntime = "ts"\nevent_type = "action"\n'
        'product = "item"\ntext = "q"\n',
    )
    result = import_files(engine, [path], mapping)
    assert result.rows_written["events"] == 3
    assert "orders" not in result.rows_written
    assert scalar(engine, "SELECT COUNT(*) FROM events WHERE event_type = 'view'") == 1
    assert scalar(engine, "SELECT query FROM events WHERE event_type = 'search'") == "blue mug"


def test_bad_date_names_file_line_and_column(engine, tmp_path):
    sales = _write(tmp_path, "vendas.csv", SALES.replace("01/03/2024 18:30", "2024-13-45"))
    mapping = _write(tmp_path, "vendas.toml", SALES_MAPPING)
    with pytest.raises(ImportValidationError) as info:
        import_files(engine, [sales], mapping)
    message = str(info.value)
    assert "vendas.csv, line 6, column 'data'" in message
    assert "'2024-13-45'" in message and "%d/%m/%Y %H:%M" in message
    assert scalar(engine, "SELECT COUNT(*) FROM customers") == 0


def test_misnamed_column_in_mapping(engine, tmp_path):
    sales = _write(tmp_path, "vendas.csv", SALES)
    mapping = _write(tmp_path, "vendas.toml", SALES_MAPPING.replace('"qtd"', '"quantidade"'))
    with pytest.raises(ImportValidationError, match=r"column 'quantidade'.*Columns present"):
        import_files(engine, [sales], mapping)


@pytest.mark.parametrize(
    ("mapping_text", "message"),
    [
        ('source = "x"\n', "needs a \\[columns\\] table"),
        ('source = "x"\n[columns]\ncustomer = "a"\n', "must name the 'time' column"),
        ('source = "x"\n[columns]\ncustomer = "a"\ntime = "b"\nbasket = "c"\n', "unknown column"),
        ('[columns]\ncustomer = "a"\ntime = "b"\n', "'source' must name"),
        ('source = "x"\nformat = "xls"\n[columns]\ncustomer = "a"\ntime = "b"\n', "'format'"),
        ("source = \n", "cannot parse mapping"),
    ],
)
def test_bad_mapping_files(tmp_path, sqlite_engine, mapping_text, message):
    sales = _write(tmp_path, "vendas.csv", SALES)
    mapping = _write(tmp_path, "m.toml", mapping_text)
    with pytest.raises(MappingError, match=message):
        import_files(sqlite_engine, [sales], mapping)
