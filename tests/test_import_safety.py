"""Imports are idempotent, transactional, and name the bad cell of a bad file."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import AMAZON, OLIST, require_data, scalar
from segassist.core.errors import ImportValidationError, UserInputError
from segassist.warehouse.importers import import_dataset
from segassist.warehouse.schema import BEHAVIOUR_TABLES
from sqlalchemy import text


def _counts(engine) -> dict[str, int]:
    tables = (*BEHAVIOUR_TABLES, "import_runs")
    return {t: scalar(engine, f"SELECT COUNT(*) FROM {t}") for t in tables}


def _amazon_sample(tmp_path: Path, lines: list[str], name="reviews_Toys_5.json") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def amazon_lines() -> list[str]:
    with gzip.open(require_data(AMAZON), "rt") as handle:
        return [next(handle).rstrip("\n") for _ in range(50)]


def test_reimport_changes_nothing(engine, amazon_lines, tmp_path):
    path = _amazon_sample(tmp_path, amazon_lines)
    first = import_dataset(engine, "amazon", [path])
    assert first.rows_written["reviews"] == 50
    after_first = _counts(engine)

    again = import_dataset(engine, "amazon", [path])
    assert again.skipped and "already imported" in again.summary()
    assert _counts(engine) == after_first

    forced = import_dataset(engine, "amazon", [path], force=True)
    assert set(forced.rows_written.values()) == {0}
    counts = _counts(engine)
    assert counts.pop("import_runs") == after_first.pop("import_runs") + 1
    assert counts == after_first


def test_overlapping_file_adds_only_new_rows(engine, amazon_lines, tmp_path):
    import_dataset(engine, "amazon", [_amazon_sample(tmp_path, amazon_lines[:30], "a_5.json")])
    result = import_dataset(engine, "amazon", [_amazon_sample(tmp_path, amazon_lines, "b_5.json")])
    assert result.rows_written["reviews"] == 20
    assert scalar(engine, "SELECT COUNT(*) FROM reviews") == 50


def _fail_on_review_insert(engine) -> None:
    """Make the database itself refuse review rows, as a full disk or a constraint would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON reviews "
                    "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused by test trigger'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON reviews "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


def test_failed_import_leaves_database_as_before(engine, amazon_lines, tmp_path):
    import_dataset(engine, "amazon", [_amazon_sample(tmp_path, amazon_lines[:10], "a_5.json")])
    before = _counts(engine)
    _fail_on_review_insert(engine)
    # Customers, products, orders and lines are written before reviews: all must roll back.
    with pytest.raises(Exception, match="refused by test trigger"):
        import_dataset(engine, "amazon", [_amazon_sample(tmp_path, amazon_lines, "b_5.json")])
    assert _counts(engine) == before


def _expect_error(path: Path, dataset: str = "amazon") -> ImportValidationError:
    from segassist.warehouse.importers import DATASETS

    with pytest.raises(ImportValidationError) as info:
        DATASETS[dataset]([path])
    return info.value


def test_missing_file(tmp_path):
    error = _expect_error(tmp_path / "nope_5.json")
    assert "nope_5.json" in str(error) and "not found" in str(error)


def test_bad_json_line_names_the_line(amazon_lines, tmp_path):
    lines = [*amazon_lines[:7], '{"reviewerID": "X", broken', *amazon_lines[7:9]]
    error = _expect_error(_amazon_sample(tmp_path, lines))
    assert error.line == 8
    assert "line 8" in str(error) and "JSON" in str(error)


def test_missing_column_suggests_the_close_name(amazon_lines, tmp_path):
    lines = [line.replace('"overall"', '"overal"') for line in amazon_lines]
    error = _expect_error(_amazon_sample(tmp_path, lines))
    assert error.column == "overall"
    assert "Did you mean 'overal'" in str(error)


def test_unparseable_number_names_line_column_and_value(amazon_lines, tmp_path):
    records = [json.loads(line) for line in amazon_lines[:5]]
    records[3]["overall"] = "five"
    error = _expect_error(_amazon_sample(tmp_path, [json.dumps(r) for r in records]))
    assert (error.line, error.column) == (4, "overall")
    assert "'five'" in str(error) and "expected a whole number" in str(error)


def test_rating_out_of_range(amazon_lines, tmp_path):
    records = [json.loads(line) for line in amazon_lines[:5]]
    records[1]["overall"] = 7
    error = _expect_error(_amazon_sample(tmp_path, [json.dumps(r) for r in records]))
    assert (error.line, error.column) == (2, "overall")
    assert "between 1 and 5" in str(error)


def test_repeated_review_is_kept_once_with_its_order(amazon_lines, tmp_path):
    """The 2018 files repeat reviewer+product: the latest is kept, whole, and counted."""
    from segassist.warehouse.importers import DATASETS

    later = json.loads(amazon_lines[2])
    later["unixReviewTime"] += 86_400
    later["reviewText"] = "Second thoughts: it broke."
    lines = [*amazon_lines[:6], json.dumps(later)]
    batch = DATASETS["amazon"]([_amazon_sample(tmp_path, lines)])
    reviews, lines_, orders = (batch.tables[t] for t in ("reviews", "order_lines", "orders"))
    assert len(reviews) == len(lines_) == len(orders) == 6
    kept = reviews[reviews["review_id"] == f"{later['reviewerID']}-{later['asin']}"]
    assert kept["text"].tolist() == ["Second thoughts: it broke."]
    assert any("1 repeated reviews" in note and "latest" in note for note in batch.notes)


def test_bad_encoding_names_the_line(tmp_path):
    olist = require_data(OLIST)
    folder = tmp_path / "olist"
    shutil.copytree(olist, folder)
    raw = (folder / "customers.csv").read_bytes().split(b"\n")
    raw[5] = raw[5].replace(b",", b",S\xe3O", 1)  # "SÃO" written as latin-1
    (folder / "customers.csv").write_bytes(b"\n".join(raw))
    error = _expect_error(folder, "olist")
    assert error.line == 6 and "encoding" in str(error)
    assert "customers.csv" in str(error)


def test_unparseable_date_in_csv_names_the_line(tmp_path):
    folder = tmp_path / "olist"
    shutil.copytree(require_data(OLIST), folder)
    orders = pd.read_csv(folder / "orders.csv", dtype=str)
    orders.loc[41, "order_purchase_timestamp"] = "31/02/2017 25:00"
    orders.to_csv(folder / "orders.csv", index=False)
    error = _expect_error(folder, "olist")
    assert (error.line, error.column) == (43, "order_purchase_timestamp")
    assert "31/02/2017 25:00" in str(error)


def test_invoice_with_two_customers_is_refused(tmp_path):
    rows = pd.DataFrame(
        {
            "Invoice": ["1", "1"],
            "StockCode": ["A", "B"],
            "Description": ["a", "b"],
            "Quantity": [1, 2],
            "InvoiceDate": ["2010-01-01 10:00", "2010-01-01 10:00"],
            "Price": [1.0, 2.0],
            "Customer ID": [1.0, 2.0],
            "Country": ["UK", "UK"],
        }
    )
    path = tmp_path / "retail.parquet"
    rows.to_parquet(path)
    from segassist.warehouse.importers import DATASETS

    with pytest.raises(
        UserInputError,
        match=r"retail.parquet, row 2: order '1' belongs to customer '2' here and to '1' on row 1",
    ):
        DATASETS["online-retail"]([path])
