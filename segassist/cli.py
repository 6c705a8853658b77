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


def _segments_option(value: str) -> int | str:
    if value == "auto":
        return value
    if not value.isdigit() or not 2 <= int(value) <= 20:
        raise click.BadParameter("use 'auto' or a number of segments from 2 to 20")
    return int(value)


@cli.command()
@click.option(
    "--horizon",
    type=click.IntRange(7, 3650),
    help="Label horizon in days (default: a quarter of the data's span, 90-365).",
)
@click.option(
    "--cutoff",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Feature cutoff (default: last activity minus the horizon).",
)
@click.option(
    "--segments",
    default="auto",
    show_default=True,
    help="Number of segments, or 'auto' to choose 3-8 by silhouette.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-text", is_flag=True, help="Use behaviour only, even if reviews are indexed.")
@click.pass_obj
def train(state: _State, horizon, cutoff, segments: str, seed: int, no_text: bool) -> None:
    """Train the fusion segmenter; promote it if it is not worse than the serving one."""
    from training.features import Window, default_window
    from training.pipeline import train_model
    from warehouse.db import require_schema

    require_schema(state.engine)
    window = default_window(state.engine, horizon)
    if cutoff is not None:
        window = Window(cutoff, window.horizon_days)
    index = None if no_text else state.existing_review_index()
    click.echo(
        f"Features as of {window.cutoff:%Y-%m-%d}, labels over the next {window.horizon_days} "
        f"days; text: {index.model + ' index' if index else 'none (behaviour only)'}."
    )
    from tqdm import tqdm

    with tqdm(desc="training", unit=" epochs", file=sys.stderr) as bar:

        def on_epoch(log) -> None:
            bar.update(1)
            bar.set_postfix(
                train=f"{log.train_loss:.3f}",
                val=f"{log.val_loss:.3f}",
                val_text=f"{log.val_loss_text:.3f}",
            )

        result = train_model(
            state.engine,
            state.settings.models_dir,
            index=index,
            window=window,
            params={"n_segments": _segments_option(segments)},
            seed=seed,
            on_epoch=on_epoch,
        )
    test = result.metrics["test"]
    click.echo(
        f"version {result.version}: {result.metrics['epochs']} epochs, "
        f"{result.metrics['n_segments']} segments; test churn ROC-AUC "
        f"{test['churn_roc_auc']:.3f}, PR-AUC {test['churn_pr_auc']:.3f}, "
        f"value Spearman {test['value_spearman']:.3f}."
    )
    click.echo(("promoted: " if result.promoted else "not promoted: ") + result.reason)


@cli.command()
@click.pass_obj
def score(state: _State) -> None:
    """Score every customer with the serving segmenter and store segments and traits."""
    from retrieval.sync import sync_index
    from training.pipeline import score_customers

    index = state.existing_review_index()
    result = score_customers(state.engine, index=index)
    sizes = ", ".join(f"{k}: {v:,}" for k, v in sorted(result.segment_sizes.items()))
    click.echo(f"scored {result.customers:,} customers with {result.version}; sizes {sizes}.")
    if index is not None:
        report = sync_index(state.engine, index)
        click.echo(f"review index: segment metadata updated on {report.metadata_changed:,} texts.")


@cli.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Report folder (default: SEGASSIST_HOME/reports/<database name>).",
)
@click.option("--title", help="Data set name for the report title (default: the database name).")
@click.option("--horizon", type=click.IntRange(7, 3650), help="Label horizon in days.")
@click.option(
    "--segments", default="auto", show_default=True, help="Number of segments, or 'auto'."
)
@click.pass_obj
def evaluate(state: _State, out: Path | None, title: str | None, horizon, segments: str) -> None:
    """Compare the segmenter with RFM, k-means and single-source ablations; write a report."""
    from training.evaluate import evaluate as run_evaluation
    from training.evaluate import text_verdict, write_report
    from training.features import default_window
    from warehouse.db import require_schema

    require_schema(state.engine)
    name = title or Path(state.engine.url.database or "warehouse").stem
    click.echo("Fitting every method on the same split (three seeds each); this takes a while.")
    evaluation = run_evaluation(
        state.engine,
        index=state.existing_review_index(),
        window=default_window(state.engine, horizon),
        n_segments=_segments_option(segments),
    )
    report = write_report(evaluation, out or state.settings.home / "reports" / name, name)
    for r in evaluation.results:
        truth = f", ARI vs truth {r.truth_ari:.3f}" if r.truth_ari is not None else ""
        click.echo(
            f"  {r.name:<17} churn ROC-AUC {r.churn_roc_auc:.3f}  value Spearman "
            f"{r.value_spearman:.3f}  stability {r.stability_ari:.3f}{truth}"
        )
    click.echo(text_verdict(evaluation))
    click.echo(f"report: {report}")


@cli.command()
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.pass_obj
def explain(state: _State, customer_id: str, as_json: bool) -> None:
    """Explain why a customer is in their segment, from features and their own words."""
    from training.explain import explain_membership

    facts = explain_membership(state.engine, customer_id, index=state.existing_review_index())
    if as_json:
        import json

        click.echo(json.dumps(facts.to_dict(), indent=2))
        return
    runner = (
        f"; runner-up {facts.runner_up_name} ({facts.runner_up_probability:.0%})"
        if facts.runner_up_name
        else ""
    )
    click.echo(
        f"Customer {facts.customer_id}: {facts.segment_name} (segment {facts.segment_id}, "
        f"{facts.probability:.0%}){runner}. Model {facts.model_version}."
    )
    click.echo("What puts them there (probability lost without it):")
    for d in facts.drivers:
        pairs = ", ".join(
            f"{k} {v:g} (segment avg {facts_avg:g})"
            for (k, v), facts_avg in zip(
                d.customer_values.items(), d.segment_averages.values(), strict=True
            )
        )
        click.echo(f"  {d.group} {d.effect:+.2f}: {pairs}")
    if facts.text_effect is not None:
        click.echo(f"  their review text {facts.text_effect:+.2f}")
    drivers = ", ".join(f"{d.group} ({d.effect:+.2f})" for d in facts.churn_drivers) or "none"
    click.echo(
        f"Churn risk {facts.churn_risk:.0%}; raised by: {drivers}. "
        f"Value estimate {facts.value_estimate:g} ({facts.value_unit})."
    )
    if facts.closest_reviews:
        click.echo(
            f"Their words closest to the segment's themes ({', '.join(facts.segment_themes[:5])}):"
        )
        for review in facts.closest_reviews:
            click.echo(f"  [{review['date']}, {review['rating']}*] {review['text']}")


@cli.command()
@click.pass_obj
def segments(state: _State) -> None:
    """Print the serving model's segment profiles."""
    from sqlalchemy import select

    from training.registry import serving_version
    from warehouse.schema import Segment

    row = serving_version(state.engine)
    if row is None:
        raise UserInputError("No segmenter is trained yet. Run 'segassist train' first.")
    with state.engine.connect() as conn:
        rows = conn.execute(
            select(Segment.__table__)
            .where(Segment.model_version == row.version)
            .order_by(Segment.segment_id)
        ).all()
    if not rows or not rows[0].profile:
        raise UserInputError("Customers are not scored yet. Run 'segassist score'.")
    click.echo(f"Model {row.version}: {len(rows)} segments")
    for seg in rows:
        p = seg.profile
        click.echo(
            f"\n[{seg.segment_id}] {seg.name}: {seg.size:,} customers ({p['share']:.0%}), "
            f"churn risk {p['churn_risk_mean']:.0%}, value {p['value_estimate_mean']:g}"
        )
        click.echo(
            "  distinctive: "
            + ", ".join(f"{d['feature']} z={d['z']:+.1f}" for d in p["distinctive"][:4])
        )
        if p.get("top_categories"):
            click.echo(
                "  categories: "
                + ", ".join(f"{c['category']} {c['share']:.0%}" for c in p["top_categories"])
            )
        if p.get("top_products"):
            click.echo(
                "  top products: "
                + "; ".join(
                    f"{t['title'] or t['product_id']} ({t['units']:,})"
                    for t in p["top_products"][:3]
                )
            )
        if p.get("themes"):
            click.echo("  themes: " + ", ".join(p["themes"]))
        for review in p.get("representative_reviews", [])[:1]:
            click.echo(f'  e.g. "{review["text"][:160]}"')


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
