"""The command line's base: the settings-bearing state every command gets, the progress
bar, and the `cli` group the command modules add to."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from segassist import __version__
from segassist.core.progress import StageLines
from segassist.core.settings import Settings, load_settings


class State:
    def __init__(self, settings: Settings, debug: bool) -> None:
        self.settings = settings
        self.debug = debug
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            from segassist.warehouse.db import open_engine

            self._engine = open_engine(self.settings.database_url)
        return self._engine

    def existing_review_index(self):
        """The review index if this database has one, else None (behaviour only)."""
        from segassist.retrieval.store import collection_name, open_client, open_index, stored_model

        client = open_client(self.settings.index_path, self.settings.chroma_url)
        name = collection_name(self.engine.url.render_as_string(hide_password=True))
        model = stored_model(client, name)
        return (
            None
            if model is None
            else open_index(client, model, name=name, options=self.embed_options)
        )

    def review_index(self, model: str | None = None, *, rebuild: bool = False):
        """The review index of this database, opened for `model` (default: the setting)."""
        from segassist.retrieval.store import collection_name, open_client, open_index

        client = open_client(self.settings.index_path, self.settings.chroma_url)
        name = collection_name(self.engine.url.render_as_string(hide_password=True))
        model = model or self.settings.embedding_model
        return open_index(client, model, name=name, rebuild=rebuild, options=self.embed_options)

    @property
    def embed_options(self):
        """How embedders run: the embed_threads and embed_cache settings."""
        from segassist.retrieval.embedders import EmbedOptions

        return EmbedOptions(self.settings.embed_threads, self.settings.embed_cache)


@contextmanager
def progress_bar(total: int | None, desc: str, unit: str = ""):
    """A tqdm bar (rate, time left) on a terminal; one line per stage in logs and pipes."""
    if not sys.stderr.isatty():
        with StageLines(total, desc, sys.stderr, unit=unit) as lines:
            yield lines
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr) as bar:
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
    ctx.obj = State(settings, debug)
