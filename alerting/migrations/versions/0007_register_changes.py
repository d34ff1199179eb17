"""register changes: which resident's targeting data changed at which register version, so
every process patches its cached arrays with the changed residents instead of reloading all;
the register's epoch names its snapshot files

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:10:00.000000
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_changes")),
    )
    op.create_index(op.f("ix_register_changes_version"), "register_changes", ["version"])
    op.create_index(op.f("ix_register_changes_at"), "register_changes", ["at"])
    with op.batch_alter_table("register_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("changes_after", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("epoch", sa.String(length=32), nullable=True))
    op.execute(sa.text("UPDATE register_version SET epoch = :e").bindparams(e=secrets.token_hex(8)))


def downgrade() -> None:
    with op.batch_alter_table("register_version", schema=None) as batch_op:
        batch_op.drop_column("epoch")
        batch_op.drop_column("changes_after")
    op.drop_index(op.f("ix_register_changes_at"), table_name="register_changes")
    op.drop_index(op.f("ix_register_changes_version"), table_name="register_changes")
    op.drop_table("register_changes")
