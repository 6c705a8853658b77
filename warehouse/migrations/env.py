"""Alembic environment: runs on the connection that `warehouse.db.migrate` hands in."""

from alembic import context
from segassist.warehouse.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only ALTER through table copies
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
