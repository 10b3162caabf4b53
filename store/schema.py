"""The PLI Pulse store: one schema for SQLite and PostgreSQL.

Privacy is built into the shape of the tables, not only the code that fills them:
- ``people`` holds a student only as a keyed hash (``person_key``); a student row cannot carry an AAD
  object id or a name (a CHECK constraint refuses it). Teachers keep their AAD object id and display name,
  because cards address them.
- ``activity_events`` and ``submissions`` hold timestamps, actors, targets, tools and kinds. There is no
  column for a body, a subject, an answer or a grade.
- Every row that belongs to a person carries a ``person_key``-shaped column, so ``forget`` can find it.

Timestamps are stored as UTC ``DateTime(timezone=True)``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

# Stable constraint names so Alembic migrations read the same on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)
ID = String(128)  # Graph ids, our source ids and person keys all fit

TOOLS = ("teams", "assignments", "forms", "onenote")
EVENT_KINDS = (
    "post",  # top-level channel post
    "reply",  # reply in a thread; target = thread starter
    "reaction",  # reaction to a message; target = its author
    "mention",  # @mention; target = the person mentioned
    "submission",  # assignment submitted
    "feedback_returned",  # feedback or points returned to the student
    "form_response",  # Forms SubmitResponse/CreateResponse
    "notebook_edit",  # edit in the student's own section group
    "collab_edit",  # edit in the Collaboration Space
)

schools = Table(
    "schools",
    metadata,
    Column("school_id", ID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("external_id", String(128)),
)

classes = Table(
    "classes",
    metadata,
    Column("class_id", ID, primary_key=True),  # = M365 group id = team id
    Column("school_id", ID, ForeignKey("schools.school_id", ondelete="SET NULL")),
    Column("display_name", String(256), nullable=False),
    Column("subject", String(128)),
    Column("grade", String(32)),
    Column("is_pli", Boolean, nullable=False, default=False),
    Column("cohort", String(64)),
    Column("partner_school", String(256)),
    Column("updated_at", TS),
)

people = Table(
    "people",
    metadata,
    # Students: HMAC pseudonym. Teachers and coaches: AAD object id.
    Column("person_key", ID, primary_key=True),
    Column("role", String(16), nullable=False),
    Column("aad_object_id", ID, unique=True),
    Column("display_name", String(256)),
    Column("upn_key", String(64), index=True),  # HMAC of the UPN, to join Forms report rows
    Column("created_at", TS),
    CheckConstraint("role in ('student', 'teacher', 'coach')", name="role"),
    CheckConstraint(
        "role <> 'student' or (aad_object_id is null and display_name is null)", name="student_pseudonymous"
    ),
)

memberships = Table(
    "memberships",
    metadata,
    Column("class_id", ID, ForeignKey("classes.class_id", ondelete="CASCADE"), primary_key=True),
    Column("person_key", ID, ForeignKey("people.person_key", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("joined_on", Date),  # first day the roster showed the person in the class
    Column("left_on", Date),
    CheckConstraint("role in ('student', 'teacher')", name="role"),
)

activity_events = Table(
    "activity_events",
    metadata,
    # Idempotency key: the Graph object and the act, e.g. "teams:reaction:{msg}:{user}:{type}".
    Column("source_id", String(256), primary_key=True),
    Column("class_id", ID),  # set for class activity; indexed by ix_activity_events_class_time
    Column("community_id", ID),  # set for teacher community channel activity; ix_activity_events_community
    Column("tool", String(16), nullable=False),
    Column("kind", String(24), nullable=False),
    # No index on actor_key or target_key: every ingest page pays for each index, and only `pli-pulse forget`
    # (a few times a year) searches by person, with one scan (migration 0003).
    Column("actor_key", ID, nullable=False),
    Column("target_key", ID),
    Column("object_id", ID),  # assignment id, form id, thread id: never content
    Column("occurred_at", TS, nullable=False),
    Column("run_id", Integer),
    CheckConstraint(f"tool in {TOOLS!r}", name="tool"),
    CheckConstraint(f"kind in {EVENT_KINDS!r}", name="kind"),
    CheckConstraint("class_id is not null or community_id is not null", name="scoped"),
)
Index("ix_activity_events_class_time", activity_events.c.class_id, activity_events.c.occurred_at)
# Partial: class events (nearly all of them) have no community and never touch this index.
_has_community = activity_events.c.community_id.isnot(None)
Index(
    "ix_activity_events_community",
    activity_events.c.community_id,
    sqlite_where=_has_community,
    postgresql_where=_has_community,
)
# The measures snapshot folds in only the events of ingest runs it has not seen (measures/snapshot.py, 0004).
Index("ix_activity_events_run_id", activity_events.c.run_id)

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", ID, primary_key=True),
    Column("class_id", ID, nullable=False, index=True),
    Column("has_forms_resource", Boolean, nullable=False, default=False),
    Column("form_id", ID),
    Column("assigned_at", TS),
    Column("due_at", TS),
    Column("status", String(24)),
)

submissions = Table(
    "submissions",
    metadata,
    Column("submission_id", ID, primary_key=True),
    Column("assignment_id", ID, nullable=False, index=True),
    Column("class_id", ID, nullable=False, index=True),
    Column("student_key", ID, nullable=False, index=True),
    Column("submitted_at", TS),
    Column("returned_at", TS),  # when feedback or points were returned; the grade itself is never stored
    Column("status", String(24)),
    # The ingest run that wrote the row or last really changed it (store/upsert.py, ``stamp``): the measures
    # recompute folds in only the submissions of runs it has not seen (measures/snapshot.py, migration 0005).
    Column("run_id", Integer, index=True),
)

form_classes = Table(
    "form_classes",
    metadata,
    Column("form_id", ID, primary_key=True),
    Column("class_id", ID, primary_key=True),
    Column("seen_via", String(16), nullable=False),  # 'assignment' or 'channel_link'
)

ingest_cursors = Table(
    "ingest_cursors",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("scope_id", String(256), primary_key=True),  # e.g. "{team}/{channel}" or a class id
    Column("cursor", Text, nullable=False),  # deltaLink or nextLink as a full URL, or a timestamp
    Column("updated_at", TS, nullable=False),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("status", String(16), nullable=False),  # running, succeeded, failed
    Column("mode", String(16)),  # full or incremental
    Column("stats", JSON),  # per source: requests, 429s, retries, pages, events
)

communities = Table(
    "communities",
    metadata,
    Column("community_id", ID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("team_id", ID),
    Column("channel_id", ID),
    Column("tenant_id", ID),
    Column("service_url", String(512)),
    Column("conversation_reference", JSON),  # stored at install time for proactive digests
    Column("installed_at", TS),
)

community_classes = Table(
    "community_classes",
    metadata,
    Column("community_id", ID, ForeignKey("communities.community_id", ondelete="CASCADE"), primary_key=True),
    Column("class_id", ID, ForeignKey("classes.class_id", ondelete="CASCADE"), primary_key=True),
)

community_members = Table(
    "community_members",
    metadata,
    Column("community_id", ID, ForeignKey("communities.community_id", ondelete="CASCADE"), primary_key=True),
    Column("person_key", ID, ForeignKey("people.person_key", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),  # teacher or coach
    CheckConstraint("role in ('teacher', 'coach')", name="role"),
)

exemplars = Table(
    "exemplars",
    metadata,
    Column("exemplar_id", ID, primary_key=True),
    Column("title", String(300), nullable=False),
    Column("summary", Text, nullable=False),
    Column("subject", String(64), nullable=False),
    Column("grade_band", String(32), nullable=False),
    Column("practice", String(64), nullable=False),
    Column("why_it_works", Text, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("author_key", ID, index=True),
    Column("created_at", TS, nullable=False),
)

exemplar_posts = Table(
    "exemplar_posts",
    metadata,
    Column("exemplar_id", ID, ForeignKey("exemplars.exemplar_id", ondelete="CASCADE"), primary_key=True),
    Column("community_id", ID, ForeignKey("communities.community_id", ondelete="CASCADE"), primary_key=True),
    Column("activity_id", String(256)),
    Column("posted_at", TS),
)

exemplar_votes = Table(
    "exemplar_votes",
    metadata,
    Column("exemplar_id", ID, ForeignKey("exemplars.exemplar_id", ondelete="CASCADE"), primary_key=True),
    Column("person_key", ID, primary_key=True),
    Column("voted_at", TS, nullable=False),
)

teacher_optins = Table(
    "teacher_optins",
    metadata,
    Column("person_key", ID, ForeignKey("people.person_key", ondelete="CASCADE"), primary_key=True),
    Column("community_id", ID, ForeignKey("communities.community_id", ondelete="CASCADE"), primary_key=True),
    Column("show_class_rows", Boolean, nullable=False, default=False),
    Column("updated_at", TS, nullable=False),
)

digest_ledger = Table(
    "digest_ledger",
    metadata,
    # One row per community and period. The primary key is the lock two replicas race for.
    Column("community_id", ID, primary_key=True),
    Column("period", String(16), primary_key=True),  # e.g. 2026-W47
    Column("status", String(16), nullable=False),  # claimed, posted, failed
    Column("claimed_by", String(128), nullable=False),
    Column("claimed_at", TS, nullable=False),
    Column("posted_at", TS),
    Column("activity_id", String(256)),
    Column("error", Text),
)

measure_results = Table(
    "measure_results",
    metadata,
    Column("scope", String(16), nullable=False),  # class, community, school, district, teacher
    Column("scope_id", ID, nullable=False),
    Column("period", String(16), nullable=False),  # 2026-W47, 2026-11, term
    # Every figure of the scope in the period, as JSON {measure: [value, n, reason]} (measures/figures.py, pack):
    # a suppressed figure has its reason and no value. One row per scope and period (migration 0007).
    Column("figures", Text, nullable=False),
    Column("computed_at", TS, nullable=False),
    # Period first: a recompute replaces whole periods, whose rows then sit together (migration 0008).
    PrimaryKeyConstraint("period", "scope", "scope_id"),
    sqlite_with_rowid=False,  # clustered on its key (migration 0006)
)

measure_snapshots = Table(
    "measure_snapshots",
    metadata,
    # The token of the prepared-state file last saved for this store: a file whose token differs was made from
    # another database (or an older copy of this one) and is never folded into (measures/snapshot.py).
    Column("name", String(32), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("saved_at", TS, nullable=False),
)

events_generation = Table(
    "events_generation",
    metadata,
    # One row, whose number triggers move on when a stored event is deleted or changed, or an ingest run's record
    # is deleted (migration 0009): a saved measures state made at another number is rebuilt.
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)
