"""The store's tables (SQLAlchemy Core), in their current shape.

A new store is created from these definitions and stamped with the latest schema version;
an older store is brought up to date by the ordered migrations in :mod:`qcode.store.migrations`.
Offsets (``start``, ``end``) are code points into ``transcripts.text``; times are milliseconds.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", String(32), nullable=False),
    Column("description", Text, nullable=False),
)

transcripts = Table(
    "transcripts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("source_path", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("file_hash", String(64), nullable=False),  # sha256 of the file's bytes
    Column("text_hash", String(64), nullable=False),  # sha256 of the normalised text
    Column("reader_version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("metadata_json", Text, nullable=False, default="{}"),  # header block, front matter
    Column("warnings_json", Text, nullable=False, default="[]"),
    Column("words", Integer, nullable=False),
    Column("roles_key", String(64), nullable=False, default=""),  # inputs of role resolution
    Column("version", Integer, nullable=False, default=1),
    Column("ingested_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

# Earlier texts of a transcript, kept when a changed file is re-ingested (for re-anchoring).
transcript_versions = Table(
    "transcript_versions",
    metadata,
    Column("transcript_id", String(200), ForeignKey("transcripts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("text", Text, nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("file_hash", String(64), nullable=False),
    Column("replaced_at", String(32), nullable=False),
)

attributes = Table(
    "attributes",
    metadata,
    Column("transcript_id", String(200), ForeignKey("transcripts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("source", String(16), nullable=False),  # sheet | front-matter
)
Index("ix_attributes_name_value", attributes.c.name, attributes.c.value)

turns = Table(
    "turns",
    metadata,
    Column("transcript_id", String(200), ForeignKey("transcripts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),  # 1-based turn number
    Column("speaker", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # interviewer | participant | other
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("start_ms", Integer),
    Column("end_ms", Integer),
)
Index("ix_turns_speaker", turns.c.speaker)

sentences = Table(
    "sentences",
    metadata,
    Column("transcript_id", String(200), primary_key=True),
    Column("turn_idx", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),  # 1-based within the turn
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    ForeignKeyConstraint(
        ["transcript_id", "turn_idx"], ["turns.transcript_id", "turns.idx"], ondelete="CASCADE"
    ),
)
