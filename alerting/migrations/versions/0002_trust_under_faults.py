"""trust under faults: suppressions, area versions, session versions, key expiry,
receipt polls, an index on messages.phone, unique inbound provider ids

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:30:55.737874
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("phone_hmac", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone_hmac", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "area_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("geojson", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=254), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["areas.id"],
            name=op.f("fk_area_versions_area_id_areas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_versions")),
        sa.UniqueConstraint("area_id", "version", name="uq_area_versions_area_version"),
    )
    with op.batch_alter_table("area_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_area_versions_area_id"), ["area_id"], unique=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("updated_by", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.alter_column(
            "phone",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=64),
            existing_nullable=False,
        )

    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.alter_column("provider_sid", existing_type=sa.VARCHAR(length=64), nullable=True)
    # no id is NULL (never equal), and of a repeated id only the first row stays
    op.execute("UPDATE inbound_messages SET provider_sid = NULL WHERE provider_sid = ''")
    op.execute(
        "DELETE FROM inbound_messages WHERE provider_sid IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM inbound_messages WHERE provider_sid IS NOT NULL "
        "GROUP BY provider_sid)"
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.alter_column(
            "phone",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_inbound_messages_provider_sid"), ["provider_sid"]
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("receipt_polls", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.alter_column(
            "phone",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
        batch_op.create_index(batch_op.f("ix_messages_phone"), ["phone"], unique=False)

    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )

    # a follow-up is planned by a worker, which needs to know whom it goes to
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up_statuses", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("follow_up_statuses")

    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("session_version")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_phone"))
        batch_op.alter_column(
            "phone",
            existing_type=sa.String(length=64),
            type_=sa.VARCHAR(length=20),
            existing_nullable=False,
        )
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("receipt_polls")

    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_inbound_messages_provider_sid"), type_="unique")
        batch_op.alter_column(
            "phone",
            existing_type=sa.String(length=64),
            type_=sa.VARCHAR(length=20),
            existing_nullable=False,
        )
        batch_op.alter_column("provider_sid", existing_type=sa.VARCHAR(length=64), nullable=False)

    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.alter_column(
            "phone",
            existing_type=sa.String(length=64),
            type_=sa.VARCHAR(length=20),
            existing_nullable=False,
        )

    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("updated_by")
        batch_op.drop_column("version")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("created_by")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("redacted_at")
        batch_op.drop_column("area_version")

    with op.batch_alter_table("area_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_area_versions_area_id"))

    op.drop_table("area_versions")
    op.drop_table("suppressions")
