"""Keep the review index in step with the SQL tables, embedding only what changed.

The SQL tables are the source of truth. Each stored text carries a hash of its
document text; a sync embeds texts that are new or whose text changed, updates
metadata in place when only metadata changed (a new rating or segment), and
deletes texts that are gone from SQL. When nothing changed it embeds nothing.
"""

from __future__ import annotations

import calendar
import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from segassist.core.progress import ProgressFactory, no_progress
from segassist.retrieval.store import PAGE, ReviewIndex
from segassist.warehouse.schema import CustomerScore, ModelVersion, Review, SupportMessage
from sqlalchemy import Engine, and_, or_, select

SUPPORT_PREFIX = "support:"
EMBED_BATCH = 256


@dataclass(frozen=True)
class SyncReport:
    """What one sync did."""

    added: int
    text_changed: int
    metadata_changed: int
    removed: int
    unchanged: int
    seconds: float

    @property
    def embedded(self) -> int:
        """Texts run through the embedding model."""
        return self.added + self.text_changed

    def summary(self) -> str:
        """One line for the CLI."""
        return (
            f"index: {self.added:,} added, {self.text_changed:,} re-embedded (text changed), "
            f"{self.metadata_changed:,} metadata updated, {self.removed:,} removed, "
            f"{self.unchanged:,} unchanged ({self.seconds:.1f} s)."
        )


def document_text(title: str | None, text: str | None) -> str:
    """The text embedded and stored for a review: its title, then its body."""
    parts = [p.strip() for p in (title, text) if p and p.strip()]
    return "\n".join(parts)


def split_document(document: str, title: str | None) -> tuple[str | None, str]:
    """`document_text` undone: (title, body) of a review as indexed, given its title, so
    the body can be quoted verbatim rather than run together with the headline."""
    head = (title or "").strip()
    if head and document.startswith(head + "\n"):
        return head, document[len(head) + 1 :]
    return None, document


def _text_hash(document: str) -> str:
    return hashlib.sha1(document.encode("utf-8")).hexdigest()[:16]


def _serving_segments(engine: Engine) -> dict[str, int]:
    """Segment of each customer under the serving model version, if one is serving."""
    query = (
        select(CustomerScore.customer_id, CustomerScore.segment_id)
        .join(ModelVersion, ModelVersion.version == CustomerScore.model_version)
        .where(ModelVersion.status == "serving")
    )
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def _metadata(kind, customer_id, product_id, rating, when: datetime, language, source, segment):
    meta = {
        "kind": kind,
        "customer_id": customer_id,
        "time": calendar.timegm(when.timetuple()),  # stored times are naive UTC
        "date": when.strftime("%Y-%m-%d"),
        "language": language or "und",
        "source": source,
    }
    # Chroma metadata cannot hold None: leave unknown values out.
    if product_id is not None:
        meta["product_id"] = product_id
    if rating is not None:
        meta["rating"] = int(rating)
    if segment is not None:
        meta["segment"] = int(segment)
    return meta


def sql_documents(engine: Engine) -> dict[str, tuple[str, dict]]:
    """Every review and support message with text, as id -> (document, metadata)."""
    segments = _serving_segments(engine)
    documents: dict[str, tuple[str, dict]] = {}
    has_text = or_(Review.text.is_not(None), Review.title.is_not(None))
    reviews = select(
        Review.review_id,
        Review.customer_id,
        Review.product_id,
        Review.rating,
        Review.title,
        Review.text,
        Review.reviewed_at,
        Review.language,
        Review.source,
    ).where(has_text)
    messages = select(
        SupportMessage.message_id,
        SupportMessage.customer_id,
        SupportMessage.subject,
        SupportMessage.text,
        SupportMessage.sent_at,
        SupportMessage.language,
        SupportMessage.source,
    ).where(and_(SupportMessage.text.is_not(None)))
    with engine.connect() as conn:
        for rid, cid, pid, rating, title, text, when, lang, source in conn.execute(reviews):
            document = document_text(title, text)
            if document:
                meta = _metadata("review", cid, pid, rating, when, lang, source, segments.get(cid))
                documents[rid] = (document, meta)
        for mid, cid, subject, text, when, lang, source in conn.execute(messages):
            document = document_text(subject, text)
            if document:
                meta = _metadata("support", cid, None, None, when, lang, source, segments.get(cid))
                documents[SUPPORT_PREFIX + mid] = (document, meta)
    return documents


def index_state(index: ReviewIndex) -> dict[str, dict]:
    """Every stored id with its metadata, read page by page."""
    state: dict[str, dict] = {}
    for offset in range(0, index.count(), PAGE):
        page = index.collection.get(include=["metadatas"], limit=PAGE, offset=offset)
        state.update(zip(page["ids"], page["metadatas"], strict=True))
    return state


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _store(index: ReviewIndex, chunk: list, vectors) -> int:
    """Upsert one embedded chunk; how many texts it held."""
    index.collection.upsert(
        ids=[i for i, _, _ in chunk],
        documents=[d for _, d, _ in chunk],
        embeddings=vectors,
        metadatas=[m for _, _, m in chunk],
    )
    return len(chunk)


def sync_index(
    engine: Engine,
    index: ReviewIndex,
    *,
    progress: ProgressFactory = no_progress,
    batch_size: int = EMBED_BATCH,
) -> SyncReport:
    """Bring the index in line with the SQL tables; embed only new or changed texts."""
    started = time.perf_counter()
    wanted = sql_documents(engine)
    stored = index_state(index)
    to_embed, to_update = [], []
    changed_text = 0
    for doc_id, (document, meta) in wanted.items():
        meta = {**meta, "text_hash": _text_hash(document)}
        old = stored.get(doc_id)
        if old is None or old.get("text_hash") != meta["text_hash"]:
            changed_text += old is not None
            to_embed.append((doc_id, document, meta))
        elif old != meta:
            to_update.append((doc_id, meta))
    removed = [doc_id for doc_id in stored if doc_id not in wanted]

    for chunk in _batches(removed, PAGE):
        index.collection.delete(ids=chunk)
    for chunk in _batches(to_update, PAGE):
        index.collection.update(ids=[i for i, _ in chunk], metadatas=[m for _, m in chunk])
    # Embed the longest texts together: less padding per batch. Chroma stores one chunk
    # while the next is embedded (its insert is a good part of the work at scale).
    to_embed.sort(key=lambda item: len(item[1]))
    with (
        progress(len(to_embed), f"embedding texts with {index.model}") as bar,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-writer") as writer,
    ):
        pending = None
        for chunk in _batches(to_embed, batch_size):
            documents = [d for _, d, _ in chunk]
            vectors = index.embedder.embed_documents(documents)
            if pending is not None:
                bar.update(pending.result())
            pending = writer.submit(_store, index, chunk, vectors)
        if pending is not None:
            bar.update(pending.result())
    if removed or to_update or to_embed:
        index.bump_revision()
    return SyncReport(
        added=len(to_embed) - changed_text,
        text_changed=changed_text,
        metadata_changed=len(to_update),
        removed=len(removed),
        unchanged=len(wanted) - len(to_embed) - len(to_update),
        seconds=time.perf_counter() - started,
    )
