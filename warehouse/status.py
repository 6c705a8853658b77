"""What is in the warehouse: row counts, date range, customers with text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from segassist.warehouse.db import current_revision, head_revision
from segassist.warehouse.schema import BEHAVIOUR_TABLES, Base, Order, Review, SupportMessage
from sqlalchemy import Engine, func, or_, select, union


@dataclass(frozen=True)
class WarehouseStatus:
    """A snapshot of the warehouse for `segassist status`."""

    url: str
    revision: str | None
    head: str
    row_counts: dict[str, int]
    first_activity: datetime | None
    last_activity: datetime | None
    customers_with_text: int
    sources: dict[str, int]

    def lines(self) -> list[str]:
        """The snapshot as lines for a terminal."""
        schema = (
            "up to date" if self.revision == self.head else f"at {self.revision}, needs {self.head}"
        )
        out = [f"database: {self.url}", f"schema:   {self.revision or 'none'} ({schema})", ""]
        width = max(len(t) for t in self.row_counts)
        out += [f"  {table:<{width}}  {count:>12,}" for table, count in self.row_counts.items()]
        out.append("")
        if self.first_activity:
            out.append(f"activity: {self.first_activity:%Y-%m-%d} .. {self.last_activity:%Y-%m-%d}")
        total = self.row_counts.get("customers", 0)
        share = f" ({self.customers_with_text / total:.0%})" if total else ""
        out.append(f"customers with review or support text: {self.customers_with_text:,}{share}")
        if self.sources:
            out.append(
                "sources: " + ", ".join(f"{s} ({n:,} customers)" for s, n in self.sources.items())
            )
        return out


def warehouse_status(engine: Engine) -> WarehouseStatus:
    """Count what the warehouse holds. Requires the schema to exist."""
    tables = Base.metadata.tables
    with engine.connect() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(tables[name])).scalar_one()
            for name in BEHAVIOUR_TABLES
        }
        times = union(
            select(func.min(Order.ordered_at).label("t")),
            select(func.max(Order.ordered_at)),
            select(func.min(Review.reviewed_at)),
            select(func.max(Review.reviewed_at)),
        ).subquery()
        first, last = conn.execute(select(func.min(times.c.t), func.max(times.c.t))).one()
        writers = union(
            select(Review.customer_id).where(
                or_(Review.text.is_not(None), Review.title.is_not(None))
            ),
            select(SupportMessage.customer_id).where(SupportMessage.text.is_not(None)),
        ).subquery()
        with_text = conn.execute(select(func.count()).select_from(writers)).scalar_one()
        customers = tables["customers"]
        sources = dict(
            conn.execute(
                select(customers.c.source, func.count()).group_by(customers.c.source)
            ).all()
        )
    return WarehouseStatus(
        url=engine.url.render_as_string(hide_password=True),
        revision=current_revision(engine),
        head=head_revision(),
        row_counts=counts,
        first_activity=_as_datetime(first),
        last_activity=_as_datetime(last),
        customers_with_text=with_text,
        sources=sources,
    )


def _as_datetime(value) -> datetime | None:
    # A UNION of DateTime columns comes back as text on SQLite.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
