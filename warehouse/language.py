"""A small, deterministic language guess for review text: en, pt, zh or und.

Good enough to route text to the right embedding model and to tell an LLM
which language to answer in; not a general language identifier.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-zà-ÿ]+")
_PT_MARKS = re.compile(r"[ãõçáâêôéíóúà]")
_PT_WORDS = frozenset(
    [
        "não",
        "nao",
        "que",
        "de",
        "da",
        "do",
        "das",
        "dos",
        "para",
        "com",
        "um",
        "uma",
        "muito",
        "mais",
        "produto",
        "entrega",
        "chegou",
        "prazo",
        "recomendo",
        "bom",
        "boa",
        "ótimo",
        "otimo",
        "veio",
        "comprei",
        "antes",
        "foi",
        "está",
        "esta",
        "mas",
        "sem",
        "ainda",
        "loja",
        "dia",
        "dias",
        "é",
        "são",
        "pelo",
        "pela",
        # What people ask of their shop's data.
        "quantos",
        "quantas",
        "qual",
        "quais",
        "quem",
        "onde",
        "quando",
        "como",
        "foram",
        "existem",
        "há",
        "tem",
        "têm",
        "teve",
        "tiveram",
        "cada",
        "por",
        "os",
        "ao",
        "aos",
        "nos",
        "nas",
        "em",
        "pedido",
        "pedidos",
        "cliente",
        "clientes",
        "vendas",
        "vendidos",
        "receita",
        "valor",
        "média",
        "mês",
        "meses",
        "ano",
        "estado",
        "cidade",
        "produtos",
        "avaliação",
        "avaliações",
        "nota",
        "notas",
        "cancelados",
        "entregues",
        "maior",
        "menor",
        "menos",
        "mostre",
        "liste",
        "segmento",
        "segmentos",
    ]
)
_EN_WORDS = frozenset(
    [
        "the",
        "and",
        "is",
        "it",
        "this",
        "for",
        "with",
        "was",
        "not",
        "but",
        "very",
        "are",
        "have",
        "you",
        "they",
        "my",
        "of",
        "to",
        "great",
        "good",
        "works",
        "would",
        "one",
        "on",
        "that",
        "as",
        "just",
        "use",
        "product",
        # What people ask of their shop's data.
        "how",
        "many",
        "much",
        "what",
        "which",
        "who",
        "where",
        "when",
        "were",
        "did",
        "does",
        "in",
        "per",
        "each",
        "there",
        "orders",
        "order",
        "customers",
        "customer",
        "reviews",
        "products",
        "sales",
        "revenue",
        "spent",
        "spend",
        "average",
        "month",
        "year",
        "most",
        "least",
        "top",
        "list",
        "show",
        "cancelled",
        "canceled",
        "segment",
        "segments",
    ]
)


def detect_language(text: str | None, default: str = "und") -> str:
    """Guess the language of `text`: 'en', 'pt', 'zh', or `default` if unsure.

    Pass the data set's known language as `default` so that short or empty
    texts ("ok", "") get it rather than 'und'.
    """
    if not isinstance(text, str) or not text.strip():
        return default
    cjk = len(_CJK.findall(text))
    if cjk and cjk >= 0.2 * len(text.replace(" ", "")):
        return "zh"
    words = _WORD.findall(text.lower())
    if not words:
        return default
    pt = sum(w in _PT_WORDS for w in words) + 0.5 * len(_PT_MARKS.findall(text.lower()))
    en = sum(w in _EN_WORDS for w in words)
    if pt == en == 0:
        return default
    return "pt" if pt > en else "en"
