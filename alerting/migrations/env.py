"""Alembic environment: the URL and connection come from alerting.migrate."""

from alembic import context

from alerting.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `alerting db upgrade`, which passes the connection")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
