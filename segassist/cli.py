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


@contextmanager
def _progress_bar(total: int | None, desc: str):
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=" rows", unit_scale=True, file=sys.stderr) as bar:
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
    from warehouse.db import migrate

    applied = migrate(state.engine)
    url = state.engine.url.render_as_string(hide_password=True)
    if applied:
        click.echo(f"Initialised {url}; applied migrations:")
        for name in applied:
            click.echo(f"  {name}")
    else:
        click.echo(f"{url} is already up to date.")


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
