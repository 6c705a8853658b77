"""Relevance on the real Amazon reviews: precision@5 on a hand-judged set.

Threshold: mean precision@5 >= 0.6, i.e. on average three of the five texts a
marketer reads back are on point. When the set was judged, minilm (with the
rating filter that matches the query's polarity, as the agent is told to use)
scored 0.71 (39/55); the threshold leaves room for about five ranking swaps
from numeric drift (bfloat16 vs float32, library versions), while the failure
modes seen while judging stay below it: minilm without the rating filter,
which matches topic but not polarity ("never broke a string" for "strings
broke"), scored 0.37, and keyword matching 0.24. The keyword baseline is
measured in the same run and must stay at least 0.25 behind.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from conftest import AMAZON, require_data
from segassist.retrieval.search import SearchFilters, search_reviews
from segassist.retrieval.store import open_client, open_index
from segassist.retrieval.sync import sync_index
from segassist.warehouse.importers import import_dataset
from sqlalchemy import text

LABELS = json.loads((Path(__file__).parent / "fixtures" / "amazon_relevance.json").read_text())
THRESHOLD = 0.6


@pytest.fixture(scope="module")
def amazon_index(tmp_path_factory):
    from segassist.warehouse.db import migrate, open_engine

    folder = tmp_path_factory.mktemp("amazon-relevance")
    engine = open_engine(f"sqlite:///{folder / 'w.db'}")
    migrate(engine)
    import_dataset(engine, "amazon", [require_data(AMAZON)])
    index = open_index(open_client(folder / "chroma"), "minilm", name="amazon_relevance")
    sync_index(engine, index)
    return engine, index


def _keyword_top5(engine, case) -> list[str]:
    clauses = " AND ".join(
        f"lower(coalesce(title, '') || ' ' || text) LIKE :k{i}"
        for i in range(len(case["keywords"]))
    )
    params = {f"k{i}": f"%{k}%" for i, k in enumerate(case["keywords"])}
    sql = (
        f"SELECT review_id FROM reviews WHERE {clauses} AND rating BETWEEN :lo AND :hi "
        "ORDER BY review_id LIMIT 5"
    )
    with engine.connect() as conn:
        rows = conn.execute(
            text(sql), {**params, "lo": case["min_rating"], "hi": case["max_rating"]}
        )
        return [r[0] for r in rows]


def _precision_at_5(found: list[str], relevant: set[str]) -> float:
    return sum(doc in relevant for doc in found[:5]) / 5


@pytest.mark.slow
def test_precision_at_5_on_judged_amazon_queries(amazon_index):
    engine, index = amazon_index
    assert len(LABELS["queries"]) >= 10
    semantic, keyword = [], []
    for case in LABELS["queries"]:
        filters = SearchFilters(min_rating=case["min_rating"], max_rating=case["max_rating"])
        hits = search_reviews(index, case["query"], k=5, filters=filters)
        relevant = set(case["relevant"])
        semantic.append(_precision_at_5([h.review_id for h in hits], relevant))
        keyword.append(_precision_at_5(_keyword_top5(engine, case), relevant))
    mean_semantic, mean_keyword = statistics.mean(semantic), statistics.mean(keyword)
    print(
        f"precision@5: minilm {mean_semantic:.2f}, keyword {mean_keyword:.2f}, per query {semantic}"
    )
    assert mean_semantic >= THRESHOLD
    assert mean_semantic - mean_keyword >= 0.25
