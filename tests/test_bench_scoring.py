"""The agent benchmark's rule-based scoring (benchmarks/bench_agent.score)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from bench_agent import score


def _q(kind, answer, tolerance=0.0, **extra):
    return {"kind": kind, "answer": answer, "tolerance": tolerance, **extra}


def test_an_entity_is_named_as_a_word_of_its_own():
    """A Portuguese refusal ("... a resposta do modelo ...") passed as naming the state
    SP; an entity must stand as its own word, also beside Chinese characters."""
    state = _q("entity", {"state": "SP"}, language="pt")
    refusal = "Não consegui consultar isso: a resposta do modelo não trazia uma chamada."
    assert not score(state, refusal)
    assert score(state, "O estado com mais clientes é SP, com 4.123 clientes.")
    customer = _q("entity_number", {"entity": "14911", "number": 205}, language="zh")
    assert score(customer, "客户14911的未取消发票最多，共205张。")
    assert not score(customer, "客户149110的未取消发票最多，共205张。")
    month = _q("entity", {"month": ["2010-11", "November 2010"]})
    assert score(month, "Revenue peaked in November 2010.")


def test_numbers_count_within_their_tolerance_and_language():
    share = _q("number", 85.6, 0.1)
    assert score(share, "85.64% of the revenue came from the United Kingdom.")
    assert not score(share, "85.8% of the revenue came from the United Kingdom.")
    orders = _q("number", 9768, language="pt")
    assert score(orders, "Existem 9.768 pedidos entregues.")
    assert not score(orders, "There are 9,768 delivered orders.")  # not in Portuguese
    # The question's own number, repeated, answers nothing (fresh-61)
    shares = _q("number", 10.1, 0.1, question="What percentage of reviewers wrote more than 10?")
    assert not score(shares, "The number of customers who wrote more than 10 reviews is 145.")
    assert score(shares, "10.1% of reviewers wrote more than 10 reviews.")
    assert score(_q("number", 10, question="Which is 10?"), "It is 10.")
