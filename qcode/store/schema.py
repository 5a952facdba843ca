"""The store's tables (SQLAlchemy Core), in their current shape.

A new store is created from these definitions and stamped with the latest schema version;
an older store is brought up to date by the ordered migrations in :mod:`qcode.store.migrations`.
Offsets (``start``, ``end``) are code points into ``transcripts.text``; times are milliseconds.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
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

# --- codebook and coding (schema version 2) ------------------------------------------------

# The codebook's entries as last synced from the YAML file (the YAML is the source of truth).
# A code removed from the YAML while codings still use it is kept with status 'orphan'.
codes = Table(
    "codes",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("parent_id", String(200)),
    Column("label", Text, nullable=False),
    Column("depth", Integer, nullable=False),
    Column("position", Integer, nullable=False),  # order in the codebook (tree order)
    Column("codable", Boolean, nullable=False),
    Column("color", String(7)),
    Column("key", String(2)),
    Column("description", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="active"),  # active | orphan
)

# One row per setting of the synced codebook: its path and content digest.
codebook_state = Table(
    "codebook_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

# A passage of a transcript coded with a code. ``snapshot`` is the quoted text at coding time
# (to re-anchor the coding when the transcript is corrected).
codings = Table(
    "codings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transcript_id", String(200), ForeignKey("transcripts.id", ondelete="CASCADE"),
           nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("code_id", String(200), nullable=False),
    Column("coder", String(200), nullable=False),
    Column("origin", String(16), nullable=False),  # manual | keyword | import
    Column("snapshot", Text, nullable=False),
    Column("memo", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    # re-anchoring after a corrected transcript: '' (placed), 'ambiguous' or 'unplaced'
    Column("flag", String(16), nullable=False, default=""),
    Column("flag_note", Text, nullable=False, default=""),
)
Index("ix_codings_code", codings.c.code_id)
Index("ix_codings_transcript", codings.c.transcript_id, codings.c.start)

# Keyword suggestions: a passage, the code its keywords point to, a score and the trigger
# words; the status records the researcher's decision. ``text_key`` identifies the suggested
# text (transcript, code, quoted text) so that a rejected suggestion never comes back for it.
suggestions = Table(
    "suggestions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transcript_id", String(200), ForeignKey("transcripts.id", ondelete="CASCADE"),
           nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("code_id", String(200), nullable=False),
    Column("unit", String(16), nullable=False),  # sentence | turn
    Column("score", Float, nullable=False),
    Column("triggers_json", Text, nullable=False),  # [{"keyword", "start", "end", "form"}]
    Column("snapshot", Text, nullable=False),
    Column("text_key", String(64), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("decided_by", String(200)),
    Column("decided_at", String(32)),
    Column("coding_id", Integer),  # the coding an accepted suggestion became
    Column("created_at", String(32), nullable=False),
    Column("flag", String(16), nullable=False, default=""),
    Column("flag_note", Text, nullable=False, default=""),
)
Index("ix_suggestions_status", suggestions.c.status, suggestions.c.code_id)
Index("ix_suggestions_transcript", suggestions.c.transcript_id, suggestions.c.start)
Index("ix_suggestions_key", suggestions.c.text_key, unique=True)

# Memos on the project, a transcript, a code or a coding.
memos = Table(
    "memos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_type", String(16), nullable=False),  # project | transcript | code | coding
    Column("target_id", String(200), nullable=False),  # '' for the project
    Column("coder", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)
Index("ix_memos_target", memos.c.target_type, memos.c.target_id)

# Tokens and folded lemmas of each transcript, computed once by the language model and keyed
# by the text's digest and the model, so suggestions never run the model again.
lemma_cache = Table(
    "lemma_cache",
    metadata,
    Column("text_hash", String(64), primary_key=True),
    Column("model", String(100), primary_key=True),
    Column("data", Text, nullable=False),  # JSON: per turn, token offsets and folded lemmas
    Column("created_at", String(32), nullable=False),
)

# Every user action that changes codings, suggestions or memos, so that 'qcode undo' can
# revert a coder's last action.
journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("coder", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("payload_json", Text, nullable=False),  # what is needed to revert the action
    Column("created_at", String(32), nullable=False),
    Column("undone", Boolean, nullable=False, default=False),
)
Index("ix_journal_coder", journal.c.coder, journal.c.id)

# Where each coder stopped in each transcript, so an interactive session resumes there.
positions = Table(
    "positions",
    metadata,
    Column("coder", String(200), primary_key=True),
    Column("transcript_id", String(200), ForeignKey("transcripts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("turn", Integer, nullable=False),
    Column("updated_at", String(32), nullable=False),
)


def _binary_collation_on_postgresql() -> None:
    """Strings sort by code point on PostgreSQL too, whatever the server's locale.

    SQLite compares text as bytes of UTF-8, which is code-point order; a PostgreSQL database
    created with a language locale would sort speakers, coders and ids otherwise, and the
    same command would list them in another order. The "C" collation is code-point order.
    """
    for table in metadata.tables.values():
        for column in table.columns:
            kind = column.type
            if isinstance(kind, String) and not kind.collation:
                variant = Text(collation="C") if isinstance(kind, Text) else String(
                    kind.length, collation="C")
                column.type = kind.with_variant(variant, "postgresql")


_binary_collation_on_postgresql()
