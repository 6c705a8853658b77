"""The segmenter's commands: train, score, evaluate, explain, segments."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from segassist.cli_base import State, cli, progress_bar
from segassist.core.errors import UserInputError
from segassist.training.text_tuning import DEFAULT_MAX_REVIEWS

# `train` and `evaluate` tune the review encoder on the same budget.
TUNE_REVIEWS = click.option(
    "--tune-reviews",
    type=click.IntRange(16, 1_000_000),
    default=DEFAULT_MAX_REVIEWS,
    show_default=True,
    help="Reviews the LoRA tuning reads (stars as evenly as the data allows); more is slower.",
)


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
@click.option(
    "--min-share",
    type=click.FloatRange(0, 0.3),
    default=0.02,
    show_default=True,
    help="Smallest segment, as a share of customers (fewer segments are made instead; "
    "0 allows any size).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-text", is_flag=True, help="Use behaviour only, even if reviews are indexed.")
@click.option(
    "--tune-text",
    is_flag=True,
    help="Also fine-tune the review encoder with LoRA on the training customers' reviews "
    "(stars, churn; minutes on a CPU) and keep it only if it lowers the validation loss.",
)
@TUNE_REVIEWS
@click.pass_obj
def train(
    state: State,
    horizon,
    cutoff,
    segments: str,
    min_share: float,
    seed: int,
    no_text: bool,
    tune_text: bool,
    tune_reviews: int,
) -> None:
    """Train the fusion segmenter; promote it if it is not worse than the serving one."""
    from segassist.training.features import Window, default_window
    from segassist.training.pipeline import train_model
    from segassist.training.prototypes import groups_sentence
    from segassist.training.text_tuning import tuning_sentence
    from segassist.warehouse.db import require_schema

    require_schema(state.engine)
    window = default_window(state.engine, horizon)
    if cutoff is not None:
        window = Window(cutoff, window.horizon_days)
    index = None if no_text else state.existing_review_index()
    click.echo(
        f"Features as of {window.cutoff:%Y-%m-%d}, labels over the next {window.horizon_days} "
        f"days; text: {index.model + ' index' if index else 'none (behaviour only)'}."
    )
    if tune_text and index is None:
        raise UserInputError("--tune-text needs indexed reviews: run 'segassist index' first.")
    with progress_bar(None, "training", unit=" epochs") as bar, ExitStack() as stack:
        tuning = None
        if tune_text:
            tuning = stack.enter_context(progress_bar(None, "tuning text", unit=" reviews"))

        def on_tune_step(reviews: int, loss: float) -> None:
            tuning.update(reviews)
            tuning.set_postfix(loss=f"{loss:.3f}")

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
            params={"n_segments": _segments_option(segments), "min_share": min_share},
            seed=seed,
            on_epoch=on_epoch,
            tune_text=tune_text,
            tune_reviews=tune_reviews,
            on_tune_step=on_tune_step,
        )
    test = result.metrics["test"]
    click.echo(
        f"version {result.version}: {result.metrics['epochs']} epochs, "
        f"{result.metrics['n_segments']} segments; test churn ROC-AUC "
        f"{test['churn_roc_auc']:.3f}, PR-AUC {test['churn_pr_auc']:.3f}, "
        f"value Spearman {test['value_spearman']:.3f}; predicted total "
        f"{test.get('value_sum_ratio', float('nan')):.2f}x the actual."
    )
    metrics = result.metrics
    click.echo(
        groups_sentence(metrics["source_groups"], metrics["n_segments"], metrics["from_groups"])
    )
    if "text_tuning" in metrics:
        click.echo(tuning_sentence(metrics["text_tuning"]))
    click.echo(("promoted: " if result.promoted else "not promoted: ") + result.reason)


@cli.command()
@click.pass_obj
def score(state: State) -> None:
    """Score every customer with the serving segmenter and store segments and traits."""
    from segassist.retrieval.sync import sync_index
    from segassist.training.pipeline import score_customers

    index = state.existing_review_index()
    result = score_customers(state.engine, index=index)
    sizes = ", ".join(f"{k}: {v:,}" for k, v in sorted(result.segment_sizes.items()))
    click.echo(f"scored {result.customers:,} customers with {result.version}; sizes {sizes}.")
    if result.skipped_line():
        click.echo(result.skipped_line())
    if result.merged_line():
        click.echo(result.merged_line())
    if result.drift is not None and result.drift.warning():
        click.echo(result.drift.warning(), err=True)
    if result.season:
        click.echo(f"note: {result.season}")
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
@click.option(
    "--tune-text",
    is_flag=True,
    help="Also fit the fusion on review vectors from a LoRA-tuned encoder and compare.",
)
@TUNE_REVIEWS
@click.pass_obj
def evaluate(
    state: State,
    out: Path | None,
    title: str | None,
    horizon,
    segments: str,
    tune_text: bool,
    tune_reviews: int,
) -> None:
    """Compare the segmenter with RFM, k-means and single-source ablations; write a report."""
    from segassist.training.evaluate import evaluate as run_evaluation
    from segassist.training.evaluate import text_verdict, write_report
    from segassist.training.features import default_window
    from segassist.warehouse.db import require_schema

    require_schema(state.engine)
    name = title or Path(state.engine.url.database or "warehouse").stem
    click.echo("Fitting every method on the same split (three seeds each); this takes a while.")
    evaluation = run_evaluation(
        state.engine,
        index=state.existing_review_index(),
        window=default_window(state.engine, horizon),
        n_segments=_segments_option(segments),
        tune_text=tune_text,
        tune_reviews=tune_reviews,
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
def explain(state: State, customer_id: str, as_json: bool) -> None:
    """Explain why a customer is in their segment, from features and their own words."""
    from segassist.training.explain import explain_membership

    facts = explain_membership(state.engine, customer_id, index=state.existing_review_index())
    if as_json:
        import json

        click.echo(json.dumps(facts.to_dict(), indent=2))
        return
    head, *rest = facts.facts()
    click.echo(f"{head} (model {facts.model_version})")
    for line in rest:
        click.echo(f"  {line}")
    click.echo(
        "Probability lost without each driver: "
        + ", ".join(
            [f"{d.group} {d.effect:+.2f}" for d in facts.drivers]
            + (
                [f"their review text {facts.text_effect:+.2f}"]
                if facts.text_effect is not None
                else []
            )
        )
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def drift(state: State, as_json: bool) -> None:
    """Compare today's customer features with the serving model's training data (PSI per
    feature) and say whether to retrain."""
    from segassist.training.pipeline import drift_since_training
    from segassist.warehouse.db import require_schema

    require_schema(state.engine)
    report = drift_since_training(state.engine)
    if as_json:
        import dataclasses
        import json

        data = dataclasses.asdict(report)
        data["recommendation"] = report.recommendation()
        click.echo(json.dumps(data, indent=2))
        return
    for line in report.lines():
        click.echo(line)


@cli.command()
@click.pass_obj
def segments(state: State) -> None:
    """Print the serving model's segment profiles."""
    from segassist.warehouse.queries import list_segments, serving_version_id

    version = serving_version_id(state.engine)
    if version is None:
        raise UserInputError("No segmenter is trained yet. Run 'segassist train' first.")
    found = list_segments(state.engine, version)
    if not found:
        raise UserInputError("Customers are not scored yet. Run 'segassist score'.")
    click.echo(f"Model {version}: {len(found)} segments")
    for segment in found:
        head, *rest = segment.facts()
        click.echo(f"\n{head}")
        for line in rest:
            click.echo(f"  {line}")
        for review in segment.profile.representative_reviews[:1]:
            click.echo(f'  e.g. "{review.text[:160]}"')
