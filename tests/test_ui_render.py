"""The pure functions behind the UI: agent steps and tool payloads -> messages, tables, figures."""

from __future__ import annotations

import pytest
from segassist.agent.loop import Step
from segassist.core.errors import UserInputError
from segassist.ui import render
from segassist.ui.access import access, is_loopback


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A real warehouse, trained and scored: the payloads below come from the producers
    (a real `score` and the real tools), never from hand-written dicts."""
    from segassist.tools.catalogue import ToolContext
    from segassist.training.pipeline import score_customers, train_model
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers.writer import write_batches
    from segassist.warehouse.synthetic import generate

    folder = tmp_path_factory.mktemp("ui-render")
    engine = open_engine(f"sqlite:///{folder / 'w.db'}")
    migrate(engine)
    write_batches(engine, generate(600, seed=7), sha256="render")
    params = {"max_epochs": 30, "patience": 5, "n_segments": 4}
    train_model(engine, folder / "models", params=params)
    score_customers(engine)
    return ToolContext(engine, None, folder / "exports")


def _tool(context, name):
    from segassist.tools.catalogue import TOOL_FACTORIES, observed

    tools = {f(context).__name__: f(context) for f in TOOL_FACTORIES}
    return lambda **args: observed(tools[name])(**args)[1]


def test_a_sql_step_shows_the_query_and_the_rows_collapsed_with_a_chart(scored):
    sql = "SELECT rating, COUNT(*) AS n FROM reviews GROUP BY rating ORDER BY rating"
    result = _tool(scored, "run_sql")(sql=sql)
    items = render.step_items("run_sql", {"sql": sql}, result.for_model(), result)
    step = items[0].as_message()
    assert step["metadata"]["title"] == "🔧 Ran SQL"
    assert f"```sql\n{sql}\n```" in step["content"]
    first = result.payload.rows[0]
    assert f"| {first[0]} | {first[1]:,} |" in step["content"]
    chart = items[1].figure
    assert list(chart.data[0].y) == [r[1] for r in result.payload.rows]


def test_a_long_table_states_its_total_and_a_one_number_result_gets_no_chart(scored):
    sql = "SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id"
    result = _tool(scored, "run_sql")(sql=sql)
    items = render.step_items("run_sql", {"sql": sql}, "", result)
    total = result.payload.total_rows
    assert total > 200 and f"50 of {total:,} rows shown" in items[0].content
    assert len(items) == 1  # too many rows to chart
    single = _tool(scored, "run_sql")(sql="SELECT COUNT(*) FROM reviews")
    assert len(render.step_items("run_sql", {"sql": "SELECT 1"}, "", single)) == 1


def test_failed_steps_read_as_such(scored):
    failed = _tool(scored, "run_sql")(sql="DROP TABLE customers")
    items = render.step_items("run_sql", {"sql": "DROP TABLE x"}, failed.for_model(), failed)
    assert failed.failed and items[0].title.endswith("(failed)")
    assert "SQL not run" in items[0].content
    crashed = _tool(scored, "export_audience")(segment_id=10**30)
    assert crashed.failed and "export_audience failed" in crashed.text
    unknown = _tool(scored, "customer_profile")(customer_id="nobody")
    assert unknown.failed and "No customer" in unknown.text


def test_an_answer_is_its_steps_then_the_text(scored):
    result = _tool(scored, "describe_data")()
    steps = [Step("describe_data", {}, result.text, result)]
    items = render.answer_items(steps, "There are 3 tables.", 2.5)
    assert [bool(i.title) for i in items] == [True, False]
    assert items[-1].content.startswith("There are 3 tables.") and "2.5 s" in items[-1].content


def test_segment_figures_and_tables_carry_every_segment(scored):
    from segassist.ui.services import Services

    segments = Services(scored.engine, None, "http://127.0.0.1:9/v1", scored.exports_dir).segments()
    frame = render.segments_frame(segments)
    assert frame["customers"].sum() == 600 and (frame["customers"] > 0).all()
    sizes = render.segment_sizes_figure(segments)
    assert sorted(y for trace in sizes.data for y in trace.y) == sorted(s.size for s in segments)
    mapped = render.segment_map_figure(segments)
    assert sum(len(trace.x) for trace in mapped.data) == sum(
        len(s.profile.map_points) for s in segments
    )
    heat = render.profile_heatmap_figure(segments)
    assert list(heat.data[0].y) == [s.label for s in segments]


def test_segment_detail_shows_products_with_their_units(scored):
    """The "(?)" bug: profiles wrote `units`, the renderer read `customers`. Both now read
    the one typed record, built by a real score."""
    from segassist.ui.services import Services

    segments = Services(scored.engine, None, "http://127.0.0.1:9/v1", scored.exports_dir).segments()
    with_products = [s for s in segments if s.profile.top_products]
    assert with_products
    for segment in with_products:
        text = render.segment_detail_markdown(segment)
        top = segment.profile.top_products[0]
        assert f"{top.label} ({top.units:,})" in text
        assert "(?)" not in text
        assert f"{segment.size:,} customers" in text


def test_customer_figures_compare_with_the_segment(scored):
    from segassist.training.explain import explain_membership

    customer = (
        scored.engine.connect()
        .exec_driver_sql("SELECT MIN(customer_id) FROM customer_scores")
        .scalar()
    )
    facts = explain_membership(scored.engine, customer)
    figure = render.customer_vs_segment_figure(facts)
    driver = facts.drivers[0]
    assert driver.percentiles  # one scale for days, counts and shares: percentiles
    assert list(figure.data[0].y)[: len(driver.percentiles)] == list(driver.percentiles.values())
    assert all(0 <= y <= 100 for y in figure.data[0].y)
    assert figure.layout.yaxis.range == (0, 100)
    probabilities = render.probabilities_figure([0.7, 0.3], {0: "frequent buyers", 1: "lapsed"})
    assert list(probabilities.data[0].x) == [0.7, 0.3]
    assert "LLM" in render.written_by_note("llm") and "Template" in render.written_by_note("x")
    assert render.brief_filename(2, "Win back!", "e-mail") == "brief-segment2-win-back-e-mail.md"


def test_public_addresses_need_a_password():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    assert access("127.0.0.1", "segassist", None) is None
    assert access("0.0.0.0", "ana", "s3cret") == [("ana", "s3cret")]
    with pytest.raises(UserInputError, match="without a password"):
        access("0.0.0.0", "segassist", None)
    for public in ("", "::", "0.0.0.0", "10.1.2.3", "192.168.1.20"):
        with pytest.raises(UserInputError, match="without a password"):
            access(public, "segassist", None)


def test_while_the_model_writes_a_call_the_chat_shows_a_placeholder():
    assert render.live_message('```json\n{"name": "run_sql"')["metadata"]["title"] == "⏳ Working"
    assert render.live_message(' {"name"')["content"] == "…"
    assert render.live_message("There are 3")["content"] == "There are 3"


def test_untrained_and_empty_databases_say_what_to_do(sqlite_engine, tmp_path):
    from segassist.ui.services import Services
    from segassist.warehouse.schema import Customer
    from sqlalchemy import insert

    services = Services(sqlite_engine, None, "http://127.0.0.1:9/v1", tmp_path)
    with pytest.raises(UserInputError, match="Import data first"):
        services.segments()
    with sqlite_engine.begin() as conn:
        conn.execute(insert(Customer), [{"customer_id": "c1", "source": "shop"}])
    with pytest.raises(UserInputError, match="segassist train' then 'segassist score'"):
        services.segments()
    with pytest.raises(UserInputError, match="not been trained"):
        services.customer("c1")


def test_the_customer_summary_reads_as_facts_without_repeats(scored):
    from segassist.ui.services import Services
    from segassist.ui.tabs import customer_summary

    services = Services(scored.engine, None, "http://127.0.0.1:9/v1", scored.exports_dir)
    customer = (
        scored.engine.connect()
        .exec_driver_sql("SELECT MIN(customer_id) FROM customer_scores")
        .scalar()
    )
    view = services.customer(customer)
    text = customer_summary(view)
    assert f"Segment **{view.facts.segment_id}: {view.facts.segment_name}**" in text
    assert "None" not in text and "churn_risk" not in text and "customer id" not in text
    assert f"orders: {view.profile.orders}" in text
    assert view.profile.first_order is None or view.profile.first_order.date().isoformat() in text
