"""channels and providers: a message row is an SMS or a voice call (landlines are called), a
call's key press is its acknowledgement, an alert carries the text spoken per language, and each
message records which SMS provider took it (a second provider takes over when the first fails)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 07:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=10), nullable=False, server_default="sms")
        )
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("provider", sa.String(length=20), nullable=True))
        batch_op.drop_constraint("uq_messages_alert_phone", type_="unique")
        batch_op.create_unique_constraint(
            "uq_messages_alert_phone_channel", ["alert_id", "phone", "channel"]
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spoken_texts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("call_undelivered_after", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("call_undelivered_after")
        batch_op.drop_column("spoken_texts")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_alert_phone_channel", type_="unique")
        batch_op.create_unique_constraint("uq_messages_alert_phone", ["alert_id", "phone"])
        batch_op.drop_column("provider")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("channel")
