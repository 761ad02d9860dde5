"""Baseline: the schema of voicesmith 0.1.0 (lexicons, synthesis tasks, voice jobs).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _job_columns() -> list[sa.Column]:
    return [
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(36), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "lexicons",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("alphabet", sa.String(16), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("lexemes", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "synthesis_tasks",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("output_uri", sa.Text(), nullable=False),
        sa.Column("request_characters", sa.Integer(), nullable=False),
        *_job_columns(),
    )
    op.create_index("ix_synthesis_tasks_status", "synthesis_tasks", ["status"])
    op.create_table(
        "voice_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("gender", sa.String(16), nullable=True),
        sa.Column("dataset", sa.JSON(), nullable=False),
        *_job_columns(),
    )
    op.create_index("ix_voice_jobs_status", "voice_jobs", ["status"])


def downgrade() -> None:
    op.drop_table("voice_jobs")
    op.drop_table("synthesis_tasks")
    op.drop_table("lexicons")
