"""The `segassist` command line: the composition root.

Settings are read once here and passed down as plain arguments. Errors are
turned into one clear line on stderr and an exit code (2: fix your input,
1: something on this machine failed); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from segassist import __version__
from segassist.errors import InfrastructureError, SegassistError, UserInputError
from segassist.settings import Settings, load_settings

DATASET_NAMES = ("amazon", "olist", "online-retail")


class _State:
    def __init__(self, settings: Settings, debug: bool) -> None:
        self.settings = settings
        self.debug = debug
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            from warehouse.db import open_engine

            self._engine = open_engine(self.settings.database_url)
        return self._engine

    def existing_review_index(self):
        """The review index if this database has one, else None (behaviour only)."""
        from retrieval.store import collection_name, open_client, open_index, stored_model

        client = open_client(self.settings.index_path, self.settings.chroma_url)
        name = collection_name(self.engine.url.render_as_string(hide_password=True))
        model = stored_model(client, name)
        return None if model is None else open_index(client, model, name=name)

    def review_index(self, model: str | None = None, *, rebuild: bool = False):
        """The review index of this database, opened for `model` (default: the setting)."""
        from retrieval.store import collection_name, open_client, open_index

        client = open_client(self.settings.index_path, self.settings.chroma_url)
        name = collection_name(self.engine.url.render_as_string(hide_password=True))
        return open_index(
            client, model or self.settings.embedding_model, name=name, rebuild=rebuild
        )


@contextmanager
def _progress_bar(total: int | None, desc: str):
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="", unit_scale=True, file=sys.stderr) as bar:
        yield bar


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="SQLAlchemy database URL (default: $SEGASSIST_DB_URL, the settings file, "
    "then an embedded SQLite file).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(__version__, prog_name="segassist")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, debug: bool) -> None:
    """segassist: segment e-commerce customers from what they do and what they write."""
    settings = load_settings().with_overrides(db_url=db_url)
    ctx.obj = _State(settings, debug)


@cli.command()
@click.pass_obj
def init(state: _State) -> None:
    """Create the warehouse schema, or bring it up to the latest migration."""
    from warehouse.db import READER_ROLE, migrate, reader_role_missing

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
    @click.pass_obj
    def command(state: _State, paths: tuple[Path, ...], force: bool) -> None:
        from warehouse.importers import import_dataset

        result = import_dataset(
            state.engine, dataset, list(paths), force=force, progress=_progress_bar
        )
        click.echo(result.summary())

    command.__doc__ = f"Import the {dataset} data set from PATHS (files or a folder)."
    return click.command(name=dataset)(command)


for _name in DATASET_NAMES:
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
    state: _State, mapping_path: Path, paths: tuple[Path, ...], force: bool
) -> None:
    """Import your own CSV, Parquet or JSON-lines files described by a mapping."""
    from warehouse.importers import import_files

    result = import_files(
        state.engine, list(paths), mapping_path, force=force, progress=_progress_bar
    )
    click.echo(result.summary())


@cli.command()
@click.pass_obj
def status(state: _State) -> None:
    """Show row counts per table, the date range and customers with text."""
    from warehouse.db import require_schema
    from warehouse.status import warehouse_status

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
@click.pass_obj
def synth(state: _State, n_customers: int, seed: int) -> None:
    """Generate synthetic customers with known ground-truth segments."""
    from warehouse.db import ensure_schema
    from warehouse.importers.writer import write_batches
    from warehouse.synthetic import generate

    ensure_schema(state.engine)
    result = write_batches(
        state.engine,
        generate(n_customers, seed=seed),
        sha256=f"synthetic-{n_customers}-{seed}",
        progress=_progress_bar,
    )
    click.echo(result.summary())


@cli.command()
@click.option(
    "--model",
    type=click.Choice(["minilm", "e5-multilingual"]),
    help="Embedding model (default: the 'embedding_model' setting, else minilm). "
    "e5-multilingual handles Portuguese and Chinese.",
)
@click.option("--rebuild", is_flag=True, help="Drop the index and embed everything again.")
@click.pass_obj
def index(state: _State, model: str | None, rebuild: bool) -> None:
    """Embed new or changed review and support texts into the search index."""
    from retrieval.sync import sync_index
    from warehouse.db import require_schema

    require_schema(state.engine)
    review_index = state.review_index(model, rebuild=rebuild)
    report = sync_index(state.engine, review_index, progress=_progress_bar)
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
@click.option("--model", type=click.Choice(["minilm", "e5-multilingual"]))
@click.pass_obj
def search(state: _State, query: str, k: int, rating: str | None, model: str | None, **options):
    """Search reviews by meaning, with optional filters."""
    from retrieval.search import SearchFilters, search_reviews

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


from segassist import cli_agent, cli_segmenter, cli_ui  # noqa: E402  (they register their commands)

del cli_agent, cli_segmenter, cli_ui


@cli.command()
@click.argument("query")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.pass_obj
def sql(state: _State, query: str, as_csv: bool, limit: int) -> None:
    """Run one read-only SQL query through the agent's own guard and print the rows.

    The same allowlist, read-only connection and time, row and size limits as the
    agent's run_sql tool; a refused query exits with code 2 and the reason.
    """
    from tools.export import neutralise_cell
    from tools.sql import run_select
    from tools.text import markdown_table

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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return its exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="segassist", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except UserInputError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except (InfrastructureError, SegassistError) as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except Exception as e:  # the edge: anything unexpected still gets one clear line
        if debug:
            raise
        click.echo(_unexpected_message(e), err=True)
        return 1
    return 0


def _unexpected_message(error: Exception) -> str:
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):
        return (
            f"error: the database refused the operation: {str(error.orig).strip()}. "
            "Nothing was written (imports run in one transaction). Re-run with --debug for details."
        )
    return (
        f"error: unexpected {type(error).__name__}: {error}. "
        "Re-run with --debug for the traceback and report it."
    )


if __name__ == "__main__":
    sys.exit(main())
