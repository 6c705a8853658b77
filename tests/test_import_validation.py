"""Hostile inputs through the command line: each refused with exit 2 and one short line
naming the file, line and column, or accepted with what was cleaned counted; the
database is left as it was."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import scalar
from segassist.core.errors import MESSAGE_CHARS
from segassist.warehouse.db import open_engine

from segassist.cli import main

HEADER = "cust,when,sku,title,qty,price,order\n"
GOOD = "c1,2024-01-01,a,Mug,1,2.50,o1\n"
MAPPING = """source = "shop"
[columns]
customer = "cust"
time = "when"
product = "sku"
product_title = "title"
quantity = "qty"
price = "price"
order = "order"
"""


def _files(tmp_path: Path, rows: str, mapping: str = MAPPING) -> list[str]:
    data = tmp_path / "sales.csv"
    data.write_text(HEADER + GOOD + rows, encoding="utf-8")
    spec = tmp_path / "map.toml"
    spec.write_text(mapping, encoding="utf-8")
    return ["--mapping", str(spec), str(data)]


def _run(capsys, url: str, *args: str) -> tuple[int, str]:
    code = main(["--db", url, "import", *args])
    captured = capsys.readouterr()
    return code, captured.err.strip()


def _refused(capsys, url: str, *args: str) -> str:
    code, err = _run(capsys, url, *args)
    assert code == 2, err
    assert "\n" not in err and len(err) <= MESSAGE_CHARS + len("error: "), err
    return err


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("c2,2024-01-02,b,Cup,1,inf,o2\n", "line 3, column 'price': bad number; expected a finite"),
        ("c2,2024-01-02,b,Cup,1,1e400,o2\n", "line 3, column 'price'"),
        ("c2,2024-01-02,b,Cup,1e20,1,o2\n", "line 3, column 'qty': value out of range"),
        ("c2,2024-01-02,b,Cup,inf,1,o2\n", "line 3, column 'qty'"),
        ("c2,0001-01-01,b,Cup,1,1,o2\n", "line 3, column 'when'"),
        ("c2,9999-12-31,b,Cup,1,1,o2\n", "line 3, column 'when': date outside"),
        ("c2,,b,Cup,1,1,o2\n", "line 3, column 'when': bad date/time"),
        ("c2,2024-01-02,b,Cup,1,1,o1\n", "line 3: order 'o1' belongs to customer 'c2'"),
        ("c\x002,2024-01-02,b,Cup,1,1,o2\n", "line 3, column 'cust': control character in id"),
        ("c2,2024-01-02,b,Cup,x,1,o2\n", "line 3, column 'qty': bad number"),
    ],
)
def test_bad_cells_are_refused_with_their_line(capsys, sqlite_url, tmp_path, row, expected):
    err = _refused(capsys, sqlite_url, "files", *_files(tmp_path, row))
    assert expected in err
    if "when" in expected and ",," in row:
        assert "found an empty cell" in err
    if "belongs to" in expected:
        assert "on line 2" in err  # both lines named


def test_control_characters_in_text_are_stripped_and_counted(capsys, sqlite_url, tmp_path):
    main(
        [
            "--db",
            sqlite_url,
            "import",
            "files",
            *_files(tmp_path, "c2,2024-01-02,b,Cu\x00p,1,1,o2\n"),
        ]
    )
    out = capsys.readouterr().out
    assert "stripped control characters (e.g. NUL) from 1 text cells" in out
    engine = open_engine(sqlite_url)
    assert scalar(engine, "SELECT title FROM products WHERE product_id = 'b'") == "Cup"


def test_limits_are_configurable(capsys, sqlite_url, tmp_path):
    strict = MAPPING + "[limits]\nprice = [0, 2]\n"
    err = _refused(capsys, sqlite_url, "files", *_files(tmp_path, "", strict))
    assert "column 'price': value out of range; expected between 0 and 2" in err
    wide = MAPPING + '[limits]\ndates = ["1900-01-01", "2200-01-01"]\n'
    code, err = _run(
        capsys, sqlite_url, "files", *_files(tmp_path, "c2,2150-01-02,b,Cup,1,1,o2\n", wide)
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            'source = "s"\ndelimiter = 5\n[columns]\ncustomer = "a"\ntime = "b"\n',
            "'delimiter' must be text",
        ),
        (
            'source = "s"\nencoding = "klingon"\n[columns]\ncustomer = "a"\ntime = "b"\n',
            "unknown text encoding",
        ),
        (
            'source = "s"\nthousands = "x"\n[columns]\ncustomer = "a"\ntime = "b"\n',
            "'thousands' must be",
        ),
        (
            'source = "s"\n[limits]\nprice = [5]\n[columns]\ncustomer = "a"\ntime = "b"\n',
            "must be [low, high]",
        ),
        ('source = "s"\n[columns]\ncustomer = "a"\nday_offset = "d"\n', "needs 'anchor_date'"),
        (
            'source = "s"\nanchor_date = "someday"\n[columns]\ncustomer = "a"\nday_offset = "d"\n',
            "'anchor_date' must be a date",
        ),
    ],
)
def test_bad_mapping_options(capsys, sqlite_url, tmp_path, mapping, expected):
    err = _refused(capsys, sqlite_url, "files", *_files(tmp_path, "", mapping))
    assert expected in err


def test_non_utf8_mapping(capsys, sqlite_url, tmp_path):
    args = _files(tmp_path, "")
    Path(args[1]).write_bytes(MAPPING.replace("shop", "lojinha é").encode("latin-1"))
    assert "not UTF-8" in _refused(capsys, sqlite_url, "files", *args)


def test_truncated_gzip(capsys, sqlite_url, tmp_path):
    path = tmp_path / "reviews_Toys_5.json.gz"
    records = [
        {
            "reviewerID": f"r{i}",
            "asin": "a",
            "overall": 5,
            "unixReviewTime": 1.4e9,
            "reviewText": "x" * 500,
        }
        for i in range(200)
    ]
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    path.write_bytes(path.read_bytes()[:-200])
    err = _refused(capsys, sqlite_url, "amazon", str(path))
    assert "truncated or corrupt" in err


def test_empty_folder_for_a_dataset(capsys, sqlite_url, tmp_path):
    (tmp_path / "empty").mkdir()
    err = _refused(capsys, sqlite_url, "amazon", str(tmp_path / "empty"))
    assert "no data files in this folder" in err


def test_huge_header_does_not_flood_the_terminal(capsys, sqlite_url, tmp_path):
    args = _files(tmp_path, "")
    Path(args[2]).write_text(";".join(f"column_{i}" for i in range(200_000)) + "\n1\n")
    err = _refused(capsys, sqlite_url, "files", *args)
    assert "missing column" in err and "check the delimiter" in err


def test_dataset_limits_on_the_command_line(capsys, sqlite_url, tmp_path):
    path = tmp_path / "reviews_Toys_5.json"
    path.write_text(
        json.dumps({"reviewerID": "r", "asin": "a", "overall": 5, "unixReviewTime": 946684800})
        + "\n"
    )  # 2000-01-01
    err = _refused(
        capsys, sqlite_url, "amazon", "--limit", "dates=2005-01-01:2020-01-01", str(path)
    )
    assert "date outside the plausible window" in err
    assert _run(capsys, sqlite_url, "amazon", str(path))[0] == 0


def test_float_customer_ids(sqlite_engine, tmp_path):
    import pandas as pd
    from segassist.warehouse.importers import import_files

    frame = pd.DataFrame(
        {"cust": [17850.0, 123.5], "when": ["2024-01-01", "2024-01-02"], "sku": ["a", "b"]}
    )
    data = tmp_path / "sales.parquet"
    frame.to_parquet(data)
    spec = tmp_path / "map.toml"
    spec.write_text('source = "s"\n[columns]\ncustomer = "cust"\ntime = "when"\norder = "sku"\n')
    import_files(sqlite_engine, [data], spec)
    ids = {
        scalar(sqlite_engine, "SELECT customer_id FROM orders WHERE order_id = :o", o=o)
        for o in ("a", "b")
    }
    assert ids == {"17850", "123.5"}
