"""cap messages: CAP messages received from other systems (their Updates and Cancels find
the alert they refer to)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 04:19:39.659729
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cap_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("identifier", sa.String(length=254), nullable=False),
        sa.Column("sent", sa.String(length=40), nullable=False),
        sa.Column("msg_type", sa.String(length=10), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_cap_messages_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cap_messages")),
        sa.UniqueConstraint("sender", "identifier", name="uq_cap_messages_sender_id"),
    )
    with op.batch_alter_table("cap_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cap_messages_alert_id"), ["alert_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cap_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cap_messages_alert_id"))

    op.drop_table("cap_messages")
