"""The pure functions behind the UI: agent steps and tool payloads -> messages, tables, figures."""

from __future__ import annotations

import pytest

from agent.loop import Step
from segassist.errors import UserInputError
from ui import render
from ui.access import access, is_loopback

SEGMENTS = [
    {
        "segment_id": 0,
        "name": "frequent buyers",
        "size": 300,
        "profile": {
            "share": 0.75,
            "churn_risk_mean": 0.2,
            "value_estimate_mean": 12.5,
            "zscores": {"n_orders": 1.2, "rating_mean": -0.1},
            "feature_means": {"n_orders": 9.0, "rating_mean": 4.1},
            "population_means": {"n_orders": 5.0, "rating_mean": 4.2},
            "distinctive": [{"feature": "n_orders", "z": 1.2}],
            "themes": ["strings", "tone"],
            "top_products": [{"product_id": "B1", "title": "Guitar strings", "customers": 40}],
            "representative_reviews": [{"rating": 5, "text": "Great | strings\nlast long"}],
            "map_points": [[0.1, 0.2, "A"], [0.3, -0.1, "B"]],
        },
    },
    {
        "segment_id": 1,
        "name": "lapsed",
        "size": 100,
        "profile": {
            "share": 0.25,
            "churn_risk_mean": 0.8,
            "value_estimate_mean": 1.5,
            "zscores": {"n_orders": -0.9, "rating_mean": 0.4},
            "map_points": [[-1.0, 0.5, "C"]],
        },
    },
]


def test_a_sql_step_shows_the_query_and_the_rows_collapsed_with_a_chart():
    payload = {
        "kind": "table",
        "columns": ["country", "customers"],
        "rows": [["Germany", 68], ["France", 55], ["EIRE", 40]],
        "total_rows": 3,
    }
    items = render.step_items(
        "run_sql", {"sql": "SELECT country, COUNT(*) FROM customers"}, "3 rows", payload
    )
    step = items[0].as_message()
    assert step["metadata"]["title"] == "🔧 Ran SQL"
    assert "```sql\nSELECT country, COUNT(*) FROM customers\n```" in step["content"]
    assert "| Germany | 68 |" in step["content"]
    chart = items[1].figure
    assert list(chart.data[0].x) == ["Germany", "France", "EIRE"]
    assert list(chart.data[0].y) == [68, 55, 40]


def test_a_long_table_states_its_total_and_a_one_number_result_gets_no_chart():
    rows = [[f"c{i}", i] for i in range(80)]
    payload = {"kind": "table", "columns": ["id", "n"], "rows": rows, "total_rows": 1200}
    items = render.step_items("run_sql", {"sql": "SELECT id, n FROM t"}, "", payload)
    assert "50 of 1,200 rows shown" in items[0].content
    assert len(items) == 1  # 80 rows: too many to chart
    single = {"kind": "table", "columns": ["n"], "rows": [[10261]], "total_rows": 1}
    assert len(render.step_items("run_sql", {"sql": "SELECT 1"}, "", single)) == 1


def test_failed_steps_and_review_hits_read_as_such():
    failed = render.step_items("run_sql", {"sql": "DROP TABLE x"}, "SQL not run: only SELECT", {})
    assert failed[0].title.endswith("(failed)")
    assert "SQL not run" in failed[0].content
    hits = {
        "kind": "reviews",
        "hits": [{"rating": 1, "date": "2014-01-02", "customer_id": "A1", "text": "broke\nfast"}],
    }
    found = render.step_items("search_reviews", {"query": "broke"}, "", hits)[0]
    assert "**1★** 2014-01-02" in found.content and "broke fast" in found.content


def test_an_answer_is_its_steps_then_the_text():
    steps = [Step("describe_data", {}, "Tables: ...", {"kind": "text", "text": "Tables: ..."})]
    items = render.answer_items(steps, "There are 3 tables.", 2.5)
    assert [bool(i.title) for i in items] == [True, False]
    assert items[-1].content.startswith("There are 3 tables.") and "2.5 s" in items[-1].content


def test_segment_figures_and_tables_carry_every_segment():
    frame = render.segments_frame(SEGMENTS)
    assert frame["customers"].tolist() == [300, 100]
    assert frame["churn risk %"].tolist() == [20.0, 80.0]
    sizes = render.segment_sizes_figure(SEGMENTS)
    assert sorted(y for trace in sizes.data for y in trace.y) == [100, 300]
    mapped = render.segment_map_figure(SEGMENTS)
    assert sum(len(trace.x) for trace in mapped.data) == 3
    heat = render.profile_heatmap_figure(SEGMENTS)
    assert list(heat.data[0].y) == ["0: frequent buyers", "1: lapsed"]
    assert heat.data[0].z[1][0] == pytest.approx(-0.9)


def test_segment_detail_has_profile_themes_products_and_quotes():
    text = render.segment_detail_markdown(SEGMENTS[0])
    assert "300 customers" in text and "75.0% of all" in text
    assert "n_orders: 9 vs 5 (z +1.2)" in text
    assert "strings, tone" in text and "Guitar strings (40)" in text
    assert "> 5★ Great | strings last long" in text


def test_customer_figures_compare_with_the_segment():
    facts = {
        "customer_id": "A1",
        "segment_id": 0,
        "drivers": [
            {"customer_values": {"n_orders": 12.0}, "segment_averages": {"n_orders": 9.0}},
        ],
    }
    figure = render.customer_vs_segment_figure(facts)
    assert [list(t.y) for t in figure.data] == [[12.0], [9.0]]
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
    from sqlalchemy import insert

    from ui.services import Services
    from warehouse.schema import Customer

    services = Services(sqlite_engine, None, "http://127.0.0.1:9/v1", tmp_path)
    with pytest.raises(UserInputError, match="Import data first"):
        services.segments()
    with sqlite_engine.begin() as conn:
        conn.execute(insert(Customer), [{"customer_id": "c1", "source": "shop"}])
    with pytest.raises(UserInputError, match="segassist train' then 'segassist score'"):
        services.segments()
    with pytest.raises(UserInputError, match="not been trained"):
        services.customer("c1")
