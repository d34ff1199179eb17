"""area libraries: saved areas imported from one GIS layer (water-supply zones, evacuation
zones, postcode areas) carry the layer's name, so they are listed and picked together

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:11:18.186411
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("library", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_column("library")
