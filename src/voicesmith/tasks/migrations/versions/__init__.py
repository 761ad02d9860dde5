"""Alembic revisions, one file each (voicesmith db revision -m ... writes the next)."""
