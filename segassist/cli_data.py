"""The data commands: init, import, status, synth, index, search, sql."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from segassist.cli_base import State, cli, progress_bar
from segassist.core.errors import UserInputError
from segassist.retrieval.embedders import EMBEDDERS
from segassist.warehouse.importers import DATASETS


@cli.command()
@click.pass_obj
def init(state: State) -> None:
    """Create the warehouse schema, or bring it up to the latest migration."""
    from segassist.warehouse.db import READER_ROLE, migrate, reader_role_missing

    applied = migrate(state.engine)
    url = state.engine.url.render_as_string(hide_password=True)
    if applied:
        click.echo(f"Initialised {url}; applied migrations:")
        for name in applied:
            click.echo(f"  {name}")
    else:
        click.echo(f"{url} is already up to date.")
    missing = reader_role_missing(state.engine)
    if missing:
        click.echo(
            f"The agent's read-only role {READER_ROLE} could not be set up by this user. "
            f"Have an administrator run:\n{missing}",
            err=True,
        )
    elif state.engine.dialect.name == "postgresql":
        click.echo(f"The agent's queries run as the read-only role {READER_ROLE}.")


@cli.group(name="import")
def import_group() -> None:
    """Import a public data set or your own files into the warehouse."""


def _import_command(dataset: str) -> click.Command:
    @click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option(
        "--force", is_flag=True, help="Re-read files already imported (adds only new rows)."
    )
    @click.option(
        "--limit",
        "limits",
        multiple=True,
        metavar="NAME=LOW:HIGH",
        help="Widen or narrow a plausible range: quantity, price, amount, votes, or dates "
        "(e.g. dates=2000-01-01:2030-12-31). Values outside are refused with their line.",
    )
    @click.pass_obj
    def command(state: State, paths: tuple[Path, ...], force: bool, limits: tuple[str, ...]):
        from segassist.warehouse.importers import Limits, import_dataset

        result = import_dataset(
            state.engine,
            dataset,
            list(paths),
            force=force,
            progress=progress_bar,
            limits=Limits.from_options(limits),
        )
        click.echo(result.summary())

    command.__doc__ = f"Import the {dataset} data set from PATHS (files or a folder)."
    return click.command(name=dataset)(command)


for _name in DATASETS:
    import_group.add_command(_import_command(_name))


@import_group.command(name="files")
@click.option(
    "--mapping",
    "mapping_path",
    required=True,
    type=click.Path(path_type=Path),
    help="TOML or YAML file naming which columns hold customer, product, time, ...",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Re-read files already imported (adds only new rows).")
@click.pass_obj
def import_files_command(
    state: State, mapping_path: Path, paths: tuple[Path, ...], force: bool
) -> None:
    """Import your own CSV, Parquet or JSON-lines files described by a mapping."""
    from segassist.warehouse.importers import import_files

    result = import_files(
        state.engine, list(paths), mapping_path, force=force, progress=progress_bar
    )
    click.echo(result.summary())


@cli.command()
@click.pass_obj
def status(state: State) -> None:
    """Show row counts per table, the date range and customers with text."""
    from segassist.warehouse.db import require_schema
    from segassist.warehouse.status import warehouse_status

    require_schema(state.engine)
    for line in warehouse_status(state.engine).lines():
        click.echo(line)


@cli.command()
@click.option(
    "--customers",
    "n_customers",
    type=click.IntRange(1, 10_000_000),
    default=1000,
    show_default=True,
    help="How many customers to generate.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--mode",
    type=click.Choice(["default", "behaviour", "text", "combination"]),
    default="default",
    show_default=True,
    help="Which source carries the true segments: both (default), behaviour only, review "
    "text only, or only the combination of the two (2 ways of buying x 2 topics).",
)
@click.pass_obj
def synth(state: State, n_customers: int, seed: int, mode: str) -> None:
    """Generate synthetic customers with known ground-truth segments."""
    from segassist.warehouse.db import ensure_schema
    from segassist.warehouse.importers.writer import write_batches
    from segassist.warehouse.synthetic import generate

    ensure_schema(state.engine)
    result = write_batches(
        state.engine,
        generate(n_customers, seed=seed, mode=mode),
        sha256=f"synthetic-{n_customers}-{seed}" + ("" if mode == "default" else f"-{mode}"),
        progress=progress_bar,
        bulk=n_customers >= 10_000 or None,
    )
    click.echo(result.summary())


@cli.command()
@click.option(
    "--model",
    type=click.Choice(list(EMBEDDERS)),
    help="Embedding model (default: the 'embedding_model' setting, else minilm). "
    "fast: for very large archives (thousands of texts/s, less precise); "
    "e5-multilingual handles Portuguese and Chinese.",
)
@click.option("--rebuild", is_flag=True, help="Drop the index and embed everything again.")
@click.pass_obj
def index(state: State, model: str | None, rebuild: bool) -> None:
    """Embed new or changed review and support texts into the search index."""
    from segassist.retrieval.sync import sync_index
    from segassist.warehouse.db import require_schema

    require_schema(state.engine)
    review_index = state.review_index(model, rebuild=rebuild)
    report = sync_index(state.engine, review_index, progress=progress_bar)
    click.echo(report.summary())
    click.echo(f"{review_index.count():,} texts indexed with {review_index.model}.")


def _rating_range(value: str | None) -> tuple[int | None, int | None]:
    if not value:
        return None, None
    low, _, high = value.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise click.BadParameter("use a star rating like 5 or a range like 1-2") from None


@cli.command()
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--customer", help="Only this customer's texts.")
@click.option("--segment", type=int, help="Only customers in this segment.")
@click.option("--rating", help="Star rating or range, e.g. 5 or 1-2.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this date (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Up to this date, inclusive.")
@click.option("--product", help="Only reviews of this product id.")
@click.option("--language", help="Only texts in this language (en, pt, zh).")
@click.option("--model", type=click.Choice(list(EMBEDDERS)))
@click.pass_obj
def search(state: State, query: str, k: int, rating: str | None, model: str | None, **options):
    """Search reviews by meaning, with optional filters."""
    from segassist.retrieval.search import SearchFilters, search_reviews

    low, high = _rating_range(rating)
    filters = SearchFilters(
        customer_id=options["customer"],
        segment=options["segment"],
        min_rating=low,
        max_rating=high,
        since=options["since"].date() if options["since"] else None,
        until=options["until"].date() if options["until"] else None,
        product_id=options["product"],
        language=options["language"],
    )
    review_index = state.review_index(model)
    if review_index.count() == 0:
        raise UserInputError("The review index is empty. Run 'segassist index' first.")
    hits = search_reviews(review_index, query, k, filters)
    if not hits:
        click.echo("No texts match these filters.")
    for rank, hit in enumerate(hits, start=1):
        stars = f"{hit.rating}*" if hit.rating is not None else "-"
        click.echo(
            f"{rank}. [{hit.score:.2f}] {hit.date} {stars} customer {hit.customer_id} "
            f"({hit.review_id})"
        )
        click.echo("   " + hit.text.replace("\n", "\n   "))


@cli.command()
@click.argument("query")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.pass_obj
def sql(state: State, query: str, as_csv: bool, limit: int) -> None:
    """Run one read-only SQL query through the agent's own guard and print the rows.

    The same allowlist, read-only connection and time, row and size limits as the
    agent's run_sql tool; a refused query exits with code 2 and the reason.
    """
    from segassist.tools.export import neutralise_cell
    from segassist.tools.sql import run_select
    from segassist.tools.text import markdown_table

    result = run_select(state.engine, query, row_limit=limit)
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows([neutralise_cell(v) for v in row] for row in result.rows)
    else:
        click.echo(markdown_table(result.columns, result.rows, max_rows=limit, width=None))
    shown = f"{len(result.rows):,} rows"
    if result.cut_at_bytes:
        shown += " (cut: the result passed the size limit)"
    elif result.truncated:
        total = f"{result.total_rows:,}" if result.total_rows is not None else "more"
        shown += f" of {total} (raise --limit for more)"
    click.echo(f"{shown} in {result.seconds:.2f} s", err=True)
