"""A throwaway PostgreSQL schema for a benchmark run (shared by bench_import, bench_scale)."""

from __future__ import annotations


def _engine(server_url: str):
    from sqlalchemy import create_engine

    return create_engine(server_url.replace("postgresql://", "postgresql+psycopg://", 1))


def fresh_schema(server_url: str, schema: str) -> str:
    """An empty schema on the server (dropped first); a URL whose search_path is it."""
    engine = _engine(server_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}options=-csearch_path%3D{schema}"


def drop_schema(server_url: str, schema: str) -> None:
    engine = _engine(server_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def schema_gib(server_url: str, schema: str) -> float:
    """Tables and indexes of the schema, in GiB."""
    engine = _engine(server_url)
    with engine.connect() as conn:
        size = conn.exec_driver_sql(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s",
            {"s": schema},
        ).scalar_one()
    engine.dispose()
    return float(size or 0) / 2**30
