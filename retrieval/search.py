"""Searching reviews by meaning, and per-customer text vectors for the segmenter.

Review text comes back verbatim but bounded in length; it is data to show or
quote, never an instruction to follow.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
from segassist.core.errors import UserInputError
from segassist.retrieval.store import PAGE, ReviewIndex

MAX_TEXT_CHARS = 600
MAX_K = 100


@dataclass(frozen=True)
class SearchFilters:
    """Optional filters on a search; every one given must hold."""

    customer_id: str | None = None
    segment: int | None = None
    min_rating: int | None = None
    max_rating: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    product_id: str | None = None
    language: str | None = None
    kind: str | None = None  # "review" or "support"

    def where(self) -> dict | None:
        """The Chroma `where` clause for these filters, or None for no filter."""
        clauses: list[dict] = []
        for key in ("customer_id", "segment", "product_id", "language", "kind"):
            value = getattr(self, key)
            if value is not None:
                clauses.append({key: value})
        if self.min_rating is not None:
            clauses.append({"rating": {"$gte": int(self.min_rating)}})
        if self.max_rating is not None:
            clauses.append({"rating": {"$lte": int(self.max_rating)}})
        if self.since is not None:
            clauses.append({"time": {"$gte": _epoch(self.since)}})
        if self.until is not None:
            clauses.append({"time": {"$lt": _epoch(self.until) + 86_400}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def validate(self) -> None:
        """Raise UserInputError on filters that can match nothing by construction."""
        for bound in (self.min_rating, self.max_rating):
            if bound is not None and not 1 <= bound <= 5:
                raise UserInputError(f"Rating filters take 1 to 5, got {bound}.")
        if self.min_rating and self.max_rating and self.min_rating > self.max_rating:
            raise UserInputError(
                f"min_rating {self.min_rating} is above max_rating {self.max_rating}."
            )
        if self.since and self.until and self.since > self.until:
            raise UserInputError(f"since {self.since} is after until {self.until}.")


def _epoch(day: date) -> int:
    return calendar.timegm(day.timetuple())


@dataclass(frozen=True)
class ReviewHit:
    """One search result: the text (bounded), its similarity and where it came from."""

    review_id: str
    score: float  # cosine similarity, 1 = same meaning
    text: str
    truncated: bool
    customer_id: str
    product_id: str | None
    rating: int | None
    date: str
    language: str
    kind: str
    segment: int | None


class FilterCache:
    """The index's vectors and metadata in memory, for exact filtered search.

    Chroma's filtered HNSW queries cost 100-600 ms at 100k texts (the filter is
    evaluated row by row before the graph search); a numpy mask plus one
    matrix-vector product over the matching rows costs a few ms and is exact.
    Loaded on the first filtered query and reloaded when the index's revision
    changes (another process synced it).
    """

    TEXT_KEYS = ("customer_id", "product_id", "language", "kind")
    NUMBER_KEYS = ("segment", "rating", "time")

    def __init__(self, index: ReviewIndex) -> None:
        self.revision = index.revision()
        texts = stored_texts(index)
        self.ids = np.asarray(texts.ids, dtype=object)
        self.vectors = texts.vectors
        meta = texts.metadatas
        self.text = {k: np.asarray([m.get(k) for m in meta], dtype=object) for k in self.TEXT_KEYS}
        self.number = {
            k: np.asarray([m.get(k, -1) for m in meta], dtype=np.int64) for k in self.NUMBER_KEYS
        }

    def mask(self, filters: SearchFilters) -> np.ndarray:
        """Rows that pass every filter."""
        keep = np.ones(len(self.ids), dtype=bool)
        for key in self.TEXT_KEYS:
            if getattr(filters, key) is not None:
                keep &= self.text[key] == getattr(filters, key)
        if filters.segment is not None:
            keep &= self.number["segment"] == filters.segment
        rating = self.number["rating"]
        if filters.min_rating is not None:
            keep &= rating >= filters.min_rating
        if filters.max_rating is not None:
            keep &= (rating <= filters.max_rating) & (rating >= 0)
        if filters.since is not None:
            keep &= self.number["time"] >= _epoch(filters.since)
        if filters.until is not None:
            keep &= self.number["time"] < _epoch(filters.until) + 86_400
        return keep

    def top(self, query: np.ndarray, filters: SearchFilters, k: int) -> list[tuple[str, float]]:
        """The `k` best (id, cosine distance) among rows passing `filters`."""
        rows = np.flatnonzero(self.mask(filters))
        if not len(rows):
            return []
        scores = self.vectors[rows] @ query
        best = (
            np.argpartition(-scores, min(k, len(rows)) - 1)[:k]
            if len(rows) > k
            else np.arange(len(rows))
        )
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.ids[rows[i]], 1.0 - float(scores[i])) for i in best]


CACHE_LIMIT = 2_000_000  # texts; above this, filtered queries go to Chroma


def _filtered_search(index: ReviewIndex, query: np.ndarray, filters: SearchFilters, k: int):
    """Chroma-shaped results of an exact filtered search over the in-memory cache."""
    if index.cache is None or index.cache.revision != index.revision():
        index.cache = FilterCache(index)
    best = index.cache.top(query, filters, k)
    if not best:
        return {"ids": [[]], "documents": [[]], "metadatas": [[]], "distances": [[]]}
    ids = [doc_id for doc_id, _ in best]
    stored = index.collection.get(ids=ids, include=["documents", "metadatas"])
    by_id = dict(
        zip(stored["ids"], zip(stored["documents"], stored["metadatas"], strict=True), strict=True)
    )
    return {
        "ids": [ids],
        "documents": [[by_id[i][0] for i in ids]],
        "metadatas": [[by_id[i][1] for i in ids]],
        "distances": [[d for _, d in best]],
    }


def bound_text(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """Cut `text` to at most `limit` characters at a word boundary; say if it was cut."""
    if len(text) <= limit:
        return text, False
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip() + " …", True


def search_reviews(
    index: ReviewIndex,
    query: str,
    k: int = 5,
    filters: SearchFilters | None = None,
    max_chars: int = MAX_TEXT_CHARS,
) -> list[ReviewHit]:
    """The `k` texts closest in meaning to `query` that pass `filters`, best first."""
    if not query or not query.strip():
        raise UserInputError("The search query is empty; describe what you are looking for.")
    if not 1 <= k <= MAX_K:
        raise UserInputError(f"k must be between 1 and {MAX_K}, got {k}.")
    filters = filters or SearchFilters()
    filters.validate()
    vector = index.embedder.embed_query(query)
    where = filters.where()
    if where is not None and index.count() <= CACHE_LIMIT:
        result = _filtered_search(index, np.asarray(vector, dtype=np.float32), filters, k)
    else:
        result = index.collection.query(
            query_embeddings=[vector],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
    hits = []
    for doc_id, document, meta, distance in zip(
        result["ids"][0],
        result["documents"][0],
        result["metadatas"][0],
        result["distances"][0],
        strict=True,
    ):
        text, truncated = bound_text(document, max_chars)
        hits.append(
            ReviewHit(
                review_id=doc_id,
                score=round(1.0 - float(distance), 4),
                text=text,
                truncated=truncated,
                customer_id=meta["customer_id"],
                product_id=meta.get("product_id"),
                rating=meta.get("rating"),
                date=meta["date"],
                language=meta.get("language", "und"),
                kind=meta.get("kind", "review"),
                segment=meta.get("segment"),
            )
        )
    return hits


@dataclass(frozen=True)
class CustomerTextVectors:
    """Per-customer text vectors read from the index (no text is embedded again)."""

    customer_ids: list[str]
    mean: np.ndarray  # (n, d) mean of the customer's text vectors, re-normalised
    recency_weighted: np.ndarray  # (n, d) weights halve every `half_life_days` before as_of
    counts: np.ndarray  # (n,) texts per customer

    def row(self, customer_id: str) -> int:
        """Row of `customer_id` in the matrices."""
        return self.customer_ids.index(customer_id)


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


@dataclass(frozen=True)
class StoredTexts:
    """Stored text vectors with who wrote them, when, and the stars given."""

    ids: list[str]
    vectors: np.ndarray  # (m, d)
    customer_ids: list[str]
    times: np.ndarray  # (m,) epoch seconds
    ratings: np.ndarray  # (m,) stars, 0 when the text has no rating (support messages)
    metadatas: list[dict] = field(default_factory=list, repr=False)
    documents: list[str] = field(default_factory=list, repr=False)  # read on request

    def select(self, rows: np.ndarray) -> StoredTexts:
        """The texts at `rows` (indices into this one)."""
        rows = np.asarray(rows, dtype=np.int64)

        def pick(items: list) -> list:
            return [items[i] for i in rows] if items else []

        return StoredTexts(
            pick(self.ids),
            self.vectors[rows],
            pick(self.customer_ids),
            self.times[rows],
            self.ratings[rows],
            pick(self.metadatas),
            pick(self.documents),
        )


def _as_of_filter(as_of: datetime | None) -> dict | None:
    return {"time": {"$lte": calendar.timegm(as_of.timetuple())}} if as_of else None


def stored_texts(
    index: ReviewIndex, *, as_of: datetime | None = None, documents: bool = False
) -> StoredTexts:
    """Every stored text vector written up to `as_of`, read page by page (none re-embedded);
    with `documents`, the texts as embedded too."""
    ids, vectors, owners, times, ratings, metadatas, texts = [], [], [], [], [], [], []
    where = _as_of_filter(as_of)
    include = ["embeddings", "metadatas", *(["documents"] if documents else [])]
    for offset in range(0, index.count(), PAGE):
        page = index.collection.get(include=include, where=where, limit=PAGE, offset=offset)
        if not page["ids"]:
            break
        ids += page["ids"]
        vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
        owners += [m["customer_id"] for m in page["metadatas"]]
        times += [m["time"] for m in page["metadatas"]]
        ratings += [m.get("rating", 0) for m in page["metadatas"]]
        metadatas += page["metadatas"]
        texts += page["documents"] if documents else []
    dimension = index.embedder.dimension
    return StoredTexts(
        ids,
        np.concatenate(vectors) if vectors else np.zeros((0, dimension), dtype=np.float32),
        owners,
        np.asarray(times, dtype=np.float64),
        np.asarray(ratings, dtype=np.int64),
        metadatas,
        texts,
    )


def customer_text_vectors(
    index: ReviewIndex,
    *,
    as_of: datetime | None = None,
    half_life_days: float = 365.0,
) -> CustomerTextVectors:
    """Mean and recency-weighted mean of each customer's stored text vectors.

    Only texts written up to `as_of` count (so features cut at a date do not see
    the future); recency weights are relative to `as_of` (default: the newest text).
    """
    return per_customer(stored_texts(index, as_of=as_of), as_of, half_life_days)


def per_customer(
    texts: StoredTexts, as_of: datetime | None = None, half_life_days: float = 365.0
) -> CustomerTextVectors:
    """Each customer's mean and recency-weighted mean of `texts.vectors` (which may be
    the stored ones or the same texts embedded again by another encoder)."""
    dimension = texts.vectors.shape[1]
    if not texts.ids:
        empty = np.zeros((0, dimension), dtype=np.float32)
        return CustomerTextVectors([], empty, empty, np.zeros(0, dtype=np.int64))
    matrix = texts.vectors
    ids, owner_row = np.unique(np.asarray(texts.customer_ids), return_inverse=True)
    seconds = texts.times
    reference = calendar.timegm(as_of.timetuple()) if as_of else seconds.max()
    weights = 0.5 ** ((reference - seconds) / (half_life_days * 86_400))
    sums = np.zeros((len(ids), dimension))
    weighted = np.zeros((len(ids), dimension))
    np.add.at(sums, owner_row, matrix)
    np.add.at(weighted, owner_row, matrix * weights[:, None])
    counts = np.bincount(owner_row, minlength=len(ids))
    return CustomerTextVectors(
        customer_ids=ids.tolist(),
        mean=_normalise(sums).astype(np.float32),
        recency_weighted=_normalise(weighted).astype(np.float32),
        counts=counts,
    )
