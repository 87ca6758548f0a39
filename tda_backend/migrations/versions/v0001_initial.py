"""Datasets, jobs and results.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("n_cols", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("source_format", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        _timestamp("created_at", nullable=False),
    )
    op.create_index("ix_datasets_owner", "datasets", ["owner"])
    op.create_index("ix_datasets_sha256", "datasets", ["sha256"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("data_id", sa.String(40), sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("result_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("reused", sa.Boolean, nullable=False),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("started_at"),
        _timestamp("heartbeat_at"),
        _timestamp("finished_at"),
    )
    op.create_index("ix_jobs_owner", "jobs", ["owner"])
    op.create_index("ix_jobs_data_id", "jobs", ["data_id"])
    op.create_index("ix_jobs_result_key", "jobs", ["result_key"])
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])

    op.create_table(
        "results",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        _timestamp("created_at", nullable=False),
    )
    op.create_index("ix_results_data_sha256", "results", ["data_sha256"])


def downgrade() -> None:
    op.drop_table("results")
    op.drop_table("jobs")
    op.drop_table("datasets")
