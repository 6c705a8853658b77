"""The named migrations build exactly the ORM's schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from segassist.warehouse.db import current_revision, head_revision, migrate, open_engine
from segassist.warehouse.schema import BEHAVIOUR_TABLES, Base
from sqlalchemy import inspect


def test_migrations_match_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_migrate_twice_applies_nothing_the_second_time(db_url):
    engine = open_engine(db_url)
    applied = migrate(engine)
    assert applied[0] == "0001_initial_schema: initial schema"
    assert applied[-1].startswith(head_revision())
    assert migrate(engine) == []
    assert set(BEHAVIOUR_TABLES) <= set(inspect(engine).get_table_names())


def test_tables_and_columns_explain_themselves_to_an_llm():
    for name in BEHAVIOUR_TABLES:
        table = Base.metadata.tables[name]
        assert table.comment, f"table {name} needs a comment for the agent"
    lines = Base.metadata.tables["order_lines"]
    assert "quantity * unit_price" in lines.comment
    assert "anonymous" in Base.metadata.tables["orders"].c.customer_id.comment


def test_analyst_queries_have_indexes(engine):
    indexed = {
        (table, tuple(index["column_names"]))
        for table in ("orders", "reviews", "order_lines")
        for index in inspect(engine).get_indexes(table)
    }
    assert ("orders", ("customer_id", "ordered_at")) in indexed
    assert ("orders", ("ordered_at",)) in indexed
    assert ("reviews", ("product_id",)) in indexed
    assert ("order_lines", ("product_id",)) in indexed
