"""coordinator workflow: validity (onset, expires, response type, superseded by), two-person
approval (reviewed by/at, comment), exercises (alerts, volunteers, staff phones), run-time settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 03:58:38.642367
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("onset", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("expires", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("response_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("exercise", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("reviewed_by", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("review_comment", sa.Text(), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_superseded_by_alerts"),
            "alerts",
            ["superseded_by"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("exercise_volunteer", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("on_duty", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("on_duty")
        batch_op.drop_column("phone")

    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("exercise_volunteer")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_superseded_by_alerts"), type_="foreignkey")
        batch_op.drop_column("review_comment")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("exercise")
        batch_op.drop_column("superseded_by")
        batch_op.drop_column("response_type")
        batch_op.drop_column("expires")
        batch_op.drop_column("onset")

    op.drop_table("app_settings")
