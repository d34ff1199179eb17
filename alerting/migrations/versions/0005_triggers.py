"""triggers: named rules fired by signed calls, and their firings (replay, dedup, audit)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:24:03.759529
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("auto_send", sa.Boolean(), nullable=False),
        sa.Column("dedup_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_triggers_area_id_areas"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
        sa.UniqueConstraint("name", name=op.f("uq_triggers_name")),
    )
    op.create_table(
        "trigger_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_trigger_firings_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["triggers.id"],
            name=op.f("fk_trigger_firings_trigger_id_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_firings")),
        sa.UniqueConstraint("signature", name=op.f("uq_trigger_firings_signature")),
    )
    with op.batch_alter_table("trigger_firings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trigger_firings_fired_at"), ["fired_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_trigger_firings_trigger_id"), ["trigger_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trigger_firings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trigger_firings_trigger_id"))
        batch_op.drop_index(batch_op.f("ix_trigger_firings_fired_at"))

    op.drop_table("trigger_firings")
    op.drop_table("triggers")
