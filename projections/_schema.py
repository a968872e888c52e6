"""Tables of the case projections: metadata and references only, never plaintext.

Free text (reasons, action descriptions, fact bodies) stays sealed in the event store and is
opened at read time, after the policy decision and the access-log entry.
"""

from __future__ import annotations

TABLES = {
    "cl_cases": """CREATE TABLE IF NOT EXISTS cl_cases (
        case_id TEXT PRIMARY KEY, status TEXT NOT NULL, phase INTEGER NOT NULL,
        purpose TEXT NOT NULL, legal_basis TEXT NOT NULL, referred_by TEXT NOT NULL,
        opened_by TEXT NOT NULL, opened_at TEXT, decided_at TEXT, closed_at TEXT,
        erased_at TEXT, version INTEGER NOT NULL, redacted_events INTEGER NOT NULL,
        notification TEXT, notification_review_at TEXT, notification_decided_by TEXT,
        notification_decided_at TEXT, notification_version INTEGER,
        notification_reviewed TEXT, notification_reviewed_at TEXT,
        notification_reviewed_by TEXT, notification_inform TEXT)""",
    "cl_participants": """CREATE TABLE IF NOT EXISTS cl_participants (
        case_id TEXT NOT NULL, org TEXT NOT NULL, invited_at TEXT NOT NULL, removed_at TEXT,
        PRIMARY KEY (case_id, org))""",
    "cl_subjects": """CREATE TABLE IF NOT EXISTS cl_subjects (
        case_id TEXT NOT NULL, subject_id TEXT NOT NULL, case_role TEXT NOT NULL,
        added_by TEXT NOT NULL, added_at TEXT NOT NULL, erased_at TEXT,
        PRIMARY KEY (case_id, subject_id))""",
    "cl_facts": """CREATE TABLE IF NOT EXISTS cl_facts (
        fact_id TEXT NOT NULL, case_id TEXT NOT NULL, owner TEXT NOT NULL,
        author TEXT NOT NULL, kind TEXT NOT NULL, categories TEXT NOT NULL,
        subjects TEXT NOT NULL, purpose TEXT NOT NULL, legal_basis TEXT NOT NULL,
        sharing_level TEXT NOT NULL, sharing_partners TEXT NOT NULL, recorded_at TEXT NOT NULL,
        body_version INTEGER NOT NULL, revisions INTEGER NOT NULL, corrected_at TEXT,
        retracted_at TEXT, erased_at TEXT, recorded_version INTEGER NOT NULL,
        PRIMARY KEY (case_id, fact_id))""",
    "cl_fact_subjects": """CREATE TABLE IF NOT EXISTS cl_fact_subjects (
        case_id TEXT NOT NULL, subject_id TEXT NOT NULL, fact_id TEXT NOT NULL,
        PRIMARY KEY (case_id, subject_id, fact_id)){without_rowid}""",
    "cl_actions": """CREATE TABLE IF NOT EXISTS cl_actions (
        action_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, assignee TEXT NOT NULL,
        due TEXT NOT NULL, status TEXT NOT NULL, agreed_by TEXT NOT NULL,
        agreed_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    "cl_consents": """CREATE TABLE IF NOT EXISTS cl_consents (
        consent_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, subject_id TEXT NOT NULL,
        purpose TEXT NOT NULL, categories TEXT NOT NULL, recipients TEXT NOT NULL,
        recorded_by TEXT NOT NULL, given_at TEXT NOT NULL, withdrawn_at TEXT)""",
    "cl_erasures": """CREATE TABLE IF NOT EXISTS cl_erasures (
        erasure_id TEXT NOT NULL, case_id TEXT NOT NULL, scope TEXT NOT NULL,
        target_id TEXT NOT NULL, ground TEXT NOT NULL, erased_at TEXT NOT NULL,
        actor TEXT NOT NULL, fact_ids TEXT NOT NULL, destroyed_scope_keys INTEGER NOT NULL,
        destroyed_fact_keys INTEGER NOT NULL, PRIMARY KEY (erasure_id, case_id))""",
    "cl_holds": """CREATE TABLE IF NOT EXISTS cl_holds (
        hold_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, reason_code TEXT NOT NULL,
        placed_by TEXT NOT NULL, placed_at TEXT NOT NULL, lifted_at TEXT)""",
    # Break-the-glass grants: who, when, until when, and the review (no reason text).
    "cl_emergency_grants": """CREATE TABLE IF NOT EXISTS cl_emergency_grants (
        grant_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, actor TEXT NOT NULL,
        org TEXT NOT NULL, roles TEXT NOT NULL, started_at TEXT NOT NULL,
        ends_at TEXT NOT NULL, reviewed TEXT, reviewed_at TEXT, reviewed_by TEXT,
        inform TEXT)""",
    # Who directs each case: the user named per role (casusregisseur, procesregisseur).
    "cl_directors": """CREATE TABLE IF NOT EXISTS cl_directors (
        case_id TEXT NOT NULL, role TEXT NOT NULL, user_id TEXT NOT NULL, org TEXT NOT NULL,
        named_by TEXT NOT NULL, named_at TEXT NOT NULL, PRIMARY KEY (case_id, role))""",
    # Cases a melder referred (POST /v1/referrals): the referring partner and melder.
    "cl_referrals": """CREATE TABLE IF NOT EXISTS cl_referrals (
        case_id TEXT PRIMARY KEY, org TEXT NOT NULL, melder TEXT NOT NULL,
        referred_at TEXT NOT NULL)""",
    # Meetings (case conferences) and their agenda: times, status and which case an item is
    # about, so meeting reads load only the meetings they concern. An item's case is NULL
    # once the keys that sealed it were destroyed (the case or the meeting's data erased).
    "cl_meetings": """CREATE TABLE IF NOT EXISTS cl_meetings (
        meeting_id TEXT PRIMARY KEY, planned_at TEXT NOT NULL, scheduled_at TEXT NOT NULL,
        chair TEXT NOT NULL, status TEXT NOT NULL, closed_at TEXT, version INTEGER NOT NULL)""",
    "cl_agenda": """CREATE TABLE IF NOT EXISTS cl_agenda (
        meeting_id TEXT NOT NULL, item_id TEXT NOT NULL, item_order INTEGER NOT NULL,
        case_id TEXT, PRIMARY KEY (meeting_id, item_id))""",
}
INDEXES = [
    "CREATE INDEX IF NOT EXISTS cl_facts_by_case ON cl_facts (case_id, recorded_at)",
    "CREATE INDEX IF NOT EXISTS cl_actions_by_case ON cl_actions (case_id, due)",
    "CREATE INDEX IF NOT EXISTS cl_consents_by_case ON cl_consents (case_id)",
    "CREATE INDEX IF NOT EXISTS cl_participants_by_org ON cl_participants (org, case_id)",
    "CREATE INDEX IF NOT EXISTS cl_grants_by_case ON cl_emergency_grants (case_id, actor)",
    "CREATE INDEX IF NOT EXISTS cl_referrals_by_org ON cl_referrals (org, case_id)",
    "CREATE INDEX IF NOT EXISTS cl_meetings_by_time ON cl_meetings (scheduled_at)",
    "CREATE INDEX IF NOT EXISTS cl_agenda_by_case ON cl_agenda (case_id, meeting_id)",
]
# The tables of one case's rows, in a stable order, with the key used to order rows for
# content hashes (an erasure re-derives exactly these from the case's history).
ORDERED_TABLES = {
    "cl_cases": "case_id",
    "cl_participants": "case_id, org",
    "cl_subjects": "case_id, subject_id",
    "cl_facts": "fact_id",
    "cl_fact_subjects": "case_id, subject_id, fact_id",
    "cl_actions": "action_id",
    "cl_consents": "consent_id",
    "cl_erasures": "erasure_id, case_id",
    "cl_holds": "hold_id",
    "cl_emergency_grants": "grant_id",
    "cl_directors": "case_id, role",
    "cl_referrals": "case_id",
}
# Every table for content hashes: the case tables and the meeting tables.
HASHED_TABLES = {
    **ORDERED_TABLES,
    "cl_meetings": "meeting_id",
    "cl_agenda": "meeting_id, item_id",
}
