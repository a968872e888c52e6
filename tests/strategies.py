"""Invented test data for the policy tests: builders and every Hypothesis strategy.

Builders (``fact``, ``case``, ``reader`` ...) make readable unit tests; strategies generate
decision inputs around the sample covenant. All ids and times are invented; nothing here is
personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from policies import (
    AccessDecision,
    CaseId,
    CaseState,
    CaseStatus,
    ConsentId,
    ConsentState,
    Covenant,
    Director,
    EmergencyRequest,
    FactId,
    FactMetadata,
    LegalHold,
    Participation,
    PartnerId,
    Principal,
    PurposeId,
    Role,
    RoleId,
    Sharing,
    SharingLevel,
    SubjectId,
    UserId,
    decide_fact_read,
    emergency_window,
    parse_covenant,
    sample_covenant_path,
)

# -- builders ------------------------------------------------------------------------------

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CASE = CaseId("case_test")
SUBJECT_A, SUBJECT_B, SUBJECT_C = SubjectId("subj_a"), SubjectId("subj_b"), SubjectId("subj_c")
JOINT = PurposeId("zvh_joint_approach")


@cache
def sample() -> Covenant:
    """The shipped sample covenant, parsed once."""
    text = sample_covenant_path().read_text(encoding="utf-8")
    return parse_covenant(text, "sample_covenant.toml")


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def reader(partner: str, *roles: str) -> Principal:
    return Principal(UserId(f"user_{partner}"), PartnerId(partner), frozenset(map(RoleId, roles)))


def directed_by(c: CaseState, who: Principal, since: datetime = T0) -> CaseState:
    """``c`` with ``who`` named as its casusregisseur (``PUT .../casusregisseur``)."""
    return replace(c, casusregisseur=Director(who.user, who.partner, since))


def shared(level: str, *partners: str) -> Sharing:
    return Sharing(SharingLevel(level), frozenset(map(PartnerId, partners)))


def fact(
    owner: str = "ggz",
    *,
    categories: Iterable[str] = ("care_need",),
    sharing: Sharing | None = None,
    purpose: str = JOINT,
    legal_basis: str = "wgs",
    kind: str = "observation",
    subjects: Iterable[str] = (SUBJECT_A,),
    recorded_at: datetime = T0,
    erased: bool = False,
    retracted: bool = False,
    fact_id: str = "fact_test",
) -> FactMetadata:
    return FactMetadata(
        fact_id=FactId(fact_id),
        case_id=CASE,
        owner=PartnerId(owner),
        kind=kind,
        categories=frozenset(categories),
        subjects=frozenset(map(SubjectId, subjects)),
        purpose=PurposeId(purpose),
        legal_basis=legal_basis,
        sharing=sharing or shared("participants"),
        recorded_at=recorded_at,
        erased=erased,
        retracted=retracted,
    )


def members(*partners: str, since: datetime = T0) -> dict[PartnerId, Participation]:
    return {PartnerId(p): Participation(PartnerId(p), since) for p in partners}


SC_PARTNERS = ("zvh", "politie", "reclassering", "ggz", "woningcorporatie")


def case(
    status: CaseStatus = CaseStatus.active,
    *,
    purpose: str = JOINT,
    participants: Mapping[PartnerId, Participation] | None = None,
    consents: Iterable[ConsentState] = (),
    holds: Iterable[LegalHold] = (),
    decided_at: datetime | None = T0,
    closed_at: datetime | None = None,
    erased_at: datetime | None = None,
) -> CaseState:
    return CaseState(
        case_id=CASE,
        status=status,
        purpose=PurposeId(purpose),
        opened_at=T0 - timedelta(days=1),
        decided_at=None if status is CaseStatus.triage else decided_at,
        closed_at=closed_at,
        participants=members(*SC_PARTNERS) if participants is None else participants,
        consents=tuple(consents),
        legal_holds=tuple(holds),
        erased_at=erased_at,
    )


def consent(
    *,
    consent_id: str = "consent_1",
    subject: str = SUBJECT_A,
    purpose: str = JOINT,
    categories: Iterable[str] = ("care_need",),
    recipients: Iterable[str] = ("gemeente",),
    given_at: datetime = T0,
    withdrawn_at: datetime | None = None,
) -> ConsentState:
    return ConsentState(
        consent_id=ConsentId(consent_id),
        subject=SubjectId(subject),
        purpose=PurposeId(purpose),
        categories=frozenset(categories),
        recipients=frozenset(map(PartnerId, recipients)),
        given_at=given_at,
        withdrawn_at=withdrawn_at,
    )


def hold(placed_at: datetime = T0, lifted_at: datetime | None = None) -> LegalHold:
    return LegalHold("hold_1", "complaint", placed_at, lifted_at)


@dataclass(frozen=True)
class ReadScenario:
    """Everything ``decide_fact_read`` takes, except the covenant."""

    principal: Principal
    purpose: str
    emergency: EmergencyRequest | None
    fact: FactMetadata
    case: CaseState
    now: datetime

    def decide(self, covenant: Covenant | None = None) -> AccessDecision:
        return decide_fact_read(
            covenant or sample(),
            self.principal,
            self.purpose,
            self.emergency,
            self.fact,
            self.case,
            self.now,
        )


# -- strategies ----------------------------------------------------------------------------

SPECIAL_CATEGORIES = ("health", "criminal")
SUBJECTS = (SUBJECT_A, SUBJECT_B, SUBJECT_C)


@dataclass(frozen=True)
class Vocabulary:
    """Ids the strategies draw from: the sample covenant's, plus undeclared ones."""

    partners: tuple[str, ...]
    purposes: tuple[str, ...]
    content_purposes: tuple[str, ...]
    categories: tuple[str, ...]
    plain_categories: tuple[str, ...]
    kinds: tuple[str, ...]
    bases: tuple[str, ...]
    contributing: tuple[str, ...]


@cache
def vocab() -> Vocabulary:
    """Derived from the sample covenant on first use (nothing is parsed at import)."""
    cov = sample()
    return Vocabulary(
        partners=(*cov.partner_ids(), "unknown_partner"),
        purposes=(*cov.purpose_ids(), "unknown_purpose"),
        content_purposes=tuple(p for p in cov.purpose_ids() if cov.is_compatible(p, p)),
        categories=cov.category_ids(),
        plain_categories=tuple(c for c in cov.category_ids() if not cov.is_special(c)),
        kinds=cov.kind_ids(),
        bases=cov.legal_basis_ids(),
        contributing=tuple(p for p in cov.partner_ids() if p != "zvh"),
    )


#: Instants from ten days before T0 to three years after, to the hour.
instants = st.integers(-10 * 24, 3 * 366 * 24).map(lambda h: at(hours=h))
optional_instants = st.none() | instants
emergency_reasons = st.sampled_from(["", "   ", "acute safety risk", "imminent fire risk"])
emergencies = st.none() | st.builds(
    lambda reason, start: emergency_window(sample(), reason, start), emergency_reasons, instants
)

rarely = st.sampled_from([False, False, False, True])
principals = st.deferred(
    lambda: st.builds(
        lambda partner, roles: Principal(UserId("user_x"), PartnerId(partner), frozenset(roles)),
        st.sampled_from(vocab().partners),
        st.frozensets(st.sampled_from(tuple(Role)).map(RoleId), min_size=1, max_size=2),
    )
)
purposes = st.deferred(lambda: st.sampled_from(vocab().purposes))


@st.composite
def sharings(draw: st.DrawFn) -> Sharing:
    level = draw(st.sampled_from(SharingLevel))
    named = st.frozensets(st.sampled_from(vocab().partners).map(PartnerId), max_size=3)
    return Sharing(level, draw(named) if level is SharingLevel.partners else frozenset())


@st.composite
def facts(draw: st.DrawFn) -> FactMetadata:
    return fact(
        draw(st.sampled_from(vocab().partners)),
        categories=draw(
            st.frozensets(st.sampled_from((*vocab().categories, "shoe_size")), max_size=2)
        ),
        sharing=draw(sharings()),
        purpose=draw(purposes),
        legal_basis=draw(st.sampled_from((*vocab().bases, "consent", "consent", "rumour"))),
        kind=draw(st.sampled_from((*vocab().kinds, "gossip"))),
        subjects=draw(st.frozensets(st.sampled_from(SUBJECTS), max_size=2)),
        recorded_at=draw(instants),
        erased=draw(rarely),
        retracted=draw(rarely),
    )


@st.composite
def participations(draw: st.DrawFn, partner: str) -> Participation:
    invited = draw(instants)
    removed = draw(st.none() | st.integers(0, 400 * 24).map(lambda h: invited + timedelta(hours=h)))
    return Participation(PartnerId(partner), invited, removed)


@st.composite
def consents(draw: st.DrawFn) -> ConsentState:
    given = draw(instants)
    withdrawn = draw(st.none() | st.integers(0, 400 * 24).map(lambda h: given + timedelta(hours=h)))
    return consent(
        consent_id=f"consent_{draw(st.integers(0, 9))}",
        subject=draw(st.sampled_from(SUBJECTS)),
        purpose=draw(purposes),
        categories=draw(st.frozensets(st.sampled_from(vocab().categories), max_size=4)),
        recipients=draw(st.frozensets(st.sampled_from(vocab().partners), max_size=4)),
        given_at=given,
        withdrawn_at=withdrawn,
    )


@st.composite
def holds(draw: st.DrawFn) -> LegalHold:
    placed = draw(instants)
    lifted = draw(st.none() | st.integers(0, 400 * 24).map(lambda h: placed + timedelta(hours=h)))
    return hold(placed, lifted)


@st.composite
def case_states(draw: st.DrawFn) -> CaseState:
    status = draw(st.sampled_from(CaseStatus))
    decided = draw(instants)
    closed = decided + timedelta(hours=draw(st.integers(0, 300 * 24)))
    partners = draw(st.frozensets(st.sampled_from(vocab().partners), max_size=6))
    # Sometimes a named casusregisseur: the random reader ("user_x") or somebody else.
    director = draw(
        st.none()
        | st.builds(
            lambda user, partner: Director(UserId(user), PartnerId(partner), T0),
            st.sampled_from(["user_x", "user_y"]),
            st.sampled_from(vocab().partners),
        )
    )
    state = case(
        status,
        purpose=draw(purposes),
        participants={PartnerId(p): draw(participations(p)) for p in sorted(partners)},
        consents=draw(st.lists(consents(), max_size=3)),
        holds=draw(st.lists(holds(), max_size=1)),
        decided_at=decided,
        closed_at=closed if status is CaseStatus.closed else draw(st.none() | st.just(closed)),
        erased_at=draw(optional_instants),
    )
    return replace(state, casusregisseur=director)


random_reads = st.builds(
    ReadScenario,
    principals,
    purposes,
    emergencies,
    facts(),
    case_states(),
    instants,
)


@st.composite
def allowed_reads(draw: st.DrawFn) -> ReadScenario:
    """A content read the need-to-know rules allow (no emergency): the base for mutations."""
    cov = sample()
    partner = draw(st.sampled_from(vocab().contributing))
    role = draw(st.sampled_from([Role.deelnemer, Role.casusregisseur, Role.melder]))
    pairs = [
        (f, r)
        for f in vocab().content_purposes
        for r in vocab().content_purposes
        if cov.is_compatible(f, r)
    ]
    fact_purpose, purpose = draw(st.sampled_from(pairs))
    owner = draw(st.sampled_from([p for p in vocab().contributing if p != partner]))
    special = draw(st.booleans())
    if special:
        categories = frozenset({draw(st.sampled_from(SPECIAL_CATEGORIES))})
        level = SharingLevel.partners
    else:
        categories = draw(
            st.frozensets(st.sampled_from(vocab().plain_categories), min_size=1, max_size=3)
        )
        levels = [SharingLevel.participants, SharingLevel.partners]
        level = draw(
            st.sampled_from(
                [*levels, SharingLevel.regie] if role is Role.casusregisseur else levels
            )
        )
    others = draw(st.frozensets(st.sampled_from(vocab().contributing).map(PartnerId), max_size=2))
    named = others | {PartnerId(partner)} if level is SharingLevel.partners else frozenset()
    recorded = at(hours=draw(st.integers(1, 100)))
    now = recorded + timedelta(hours=draw(st.integers(0, 2000)))
    with_consent = draw(st.booleans())
    agreed = (
        [
            consent(
                subject=SUBJECT_A,
                purpose=purpose,
                categories=categories | {"plan"},
                recipients={partner, "gemeente"},
                given_at=T0,
                withdrawn_at=draw(st.none() | st.just(now + timedelta(hours=1))),
            )
        ]
        if with_consent
        else []
    )
    basis = "consent" if with_consent else draw(st.sampled_from(["wgs", "public_task"]))
    participants = members("zvh", owner, since=T0)
    participants[PartnerId(partner)] = Participation(PartnerId(partner), at(hours=1))
    the_fact = fact(
        owner,
        categories=categories,
        sharing=Sharing(level, named),
        purpose=fact_purpose,
        legal_basis=basis,
        kind=draw(st.sampled_from(vocab().kinds)),
        subjects=draw(st.sampled_from([{SUBJECT_A}, {SUBJECT_A, SUBJECT_B}])),
        recorded_at=recorded,
    )
    the_case = case(purpose=fact_purpose, participants=participants, consents=agreed)
    who = reader(partner, role)
    if level is SharingLevel.regie:  # regie opens to the casusregisseur the case names
        the_case = directed_by(the_case, who)
    return ReadScenario(who, purpose, None, the_fact, the_case, now)


def _participants(
    s: ReadScenario, change: Callable[[dict[PartnerId, Participation]], object]
) -> ReadScenario:
    participants = dict(s.case.participants)
    change(participants)
    return replace(s, case=replace(s.case, participants=participants))


def _incompatible_purpose(s: ReadScenario) -> ReadScenario:
    purpose = next(
        p for p in vocab().content_purposes if not sample().is_compatible(s.fact.purpose, p)
    )
    return replace(s, purpose=purpose)


def _consent_basis(s: ReadScenario, *agreed: ConsentState) -> ReadScenario:
    return replace(
        s, fact=replace(s.fact, legal_basis="consent"), case=replace(s.case, consents=agreed)
    )


def _reader_partner(s: ReadScenario) -> PartnerId:
    return s.principal.partner


def _someone_else(s: ReadScenario) -> str:
    """A contributing partner that is neither the reader's nor the owner's."""
    return next(p for p in vocab().contributing if p not in (s.principal.partner, s.fact.owner))


def _health_for_participants(s: ReadScenario) -> ReadScenario:
    """Add health data shared with all participants (any consent covers health too)."""
    health = s.fact.categories | {"health"}
    agreed = tuple(replace(c, categories=c.categories | health) for c in s.case.consents)
    return replace(
        s,
        fact=replace(s.fact, categories=health, sharing=shared("participants")),
        case=replace(s.case, consents=agreed),
    )


#: One broken rule each: name -> (mutation, may emergency access override it?).
VIOLATIONS: dict[str, tuple[Callable[[ReadScenario], ReadScenario], bool]] = {
    "partner_unknown": (
        lambda s: replace(s, principal=reader("unknown_partner", "deelnemer")),
        False,
    ),
    "role_not_permitted": (
        lambda s: replace(s, principal=reader(_reader_partner(s), "procesregisseur")),
        False,
    ),
    "purpose_unknown": (lambda s: replace(s, purpose="unknown_purpose"), False),
    "criminal_investigation": (lambda s: replace(s, purpose="criminal_investigation"), False),
    "purpose_incompatible": (_incompatible_purpose, False),
    "clerk": (lambda s: replace(s, principal=reader("zvh", "administratief_medewerker")), False),
    "privacy_officer_content": (
        lambda s: replace(s, principal=reader("zvh", "privacy_officer")),
        False,
    ),
    "undeclared_kind": (lambda s: replace(s, fact=replace(s.fact, kind="gossip")), False),
    "undeclared_category": (
        lambda s: replace(s, fact=replace(s.fact, categories=s.fact.categories | {"shoe_size"})),
        False,
    ),
    "undeclared_basis": (lambda s: replace(s, fact=replace(s.fact, legal_basis="rumour")), False),
    "erased": (lambda s: replace(s, fact=replace(s.fact, erased=True)), False),
    "retracted": (lambda s: replace(s, fact=replace(s.fact, retracted=True)), False),
    "case_erased": (lambda s: replace(s, case=replace(s.case, status=CaseStatus.erased)), False),
    "case_closed": (
        lambda s: replace(
            s, case=replace(s.case, status=CaseStatus.closed, closed_at=s.now, decided_at=T0)
        ),
        False,
    ),
    "case_in_triage": (
        lambda s: replace(s, case=replace(s.case, status=CaseStatus.triage, decided_at=None)),
        False,
    ),
    "closed_and_expired": (
        lambda s: replace(
            s,
            case=replace(
                s.case,
                status=CaseStatus.closed,
                decided_at=T0,
                closed_at=s.now - timedelta(days=800),
            ),
        ),
        False,
    ),
    "participant_removed": (
        lambda s: _participants(
            s,
            lambda p: p.update(
                {s.principal.partner: Participation(s.principal.partner, T0, removed_at=s.now)}
            ),
        ),
        False,
    ),
    "consent_withdrawn": (
        lambda s: _consent_basis(
            s,
            consent(
                purpose=s.purpose,
                categories=s.fact.categories,
                recipients={s.principal.partner},
                withdrawn_at=s.now,
            ),
        ),
        False,
    ),
    "consent_absent": (lambda s: _consent_basis(s), False),
    "consent_not_recipient": (
        lambda s: _consent_basis(
            s,
            consent(purpose=s.purpose, categories=s.fact.categories, recipients={_someone_else(s)}),
        ),
        False,
    ),
    "consent_other_subject": (
        lambda s: _consent_basis(
            s,
            consent(
                subject=SUBJECT_C,
                purpose=s.purpose,
                categories=s.fact.categories,
                recipients={s.principal.partner},
            ),
        ),
        False,
    ),
    "consent_narrower_categories": (
        lambda s: _consent_basis(
            s, consent(purpose=s.purpose, categories=(), recipients={s.principal.partner})
        ),
        False,
    ),
    "not_participant": (
        lambda s: _participants(s, lambda p: p.pop(s.principal.partner, None)),
        True,
    ),
    "not_yet_invited": (
        lambda s: _participants(
            s,
            lambda p: p.update(
                {
                    s.principal.partner: Participation(
                        s.principal.partner, s.now + timedelta(hours=1)
                    )
                }
            ),
        ),
        True,
    ),
    # Emergency access never opens owner-only facts.
    "sharing_owner": (lambda s: replace(s, fact=replace(s.fact, sharing=shared("owner"))), False),
    "sharing_not_named": (
        lambda s: replace(s, fact=replace(s.fact, sharing=shared("partners", _someone_else(s)))),
        True,
    ),
    "regie_not_director": (
        lambda s: replace(
            s,
            principal=reader(s.principal.partner, "deelnemer"),
            fact=replace(s.fact, sharing=shared("regie")),
        ),
        True,
    ),
    "special_via_participants": (_health_for_participants, True),
}

violations = st.sampled_from(sorted(VIOLATIONS))


@dataclass(frozen=True)
class EmergencyWindow:
    """A break-the-glass request started ``minutes_ago`` (inside the sample's 240 minutes)."""

    minutes_ago: int
    reason: str

    def at(self, now: datetime) -> EmergencyRequest:
        return emergency_window(sample(), self.reason, now - timedelta(minutes=self.minutes_ago))


valid_emergencies = st.builds(
    EmergencyWindow,
    st.integers(0, 239),
    st.sampled_from(["acute safety risk", "person missing, threat of suicide"]),
)


@st.composite
def near_valid_reads(draw: st.DrawFn) -> ReadScenario:
    """An allowed read with up to two rules broken and maybe an emergency request."""
    scenario = draw(allowed_reads())
    for name in draw(st.lists(violations, max_size=2)):
        scenario = VIOLATIONS[name][0](scenario)
    window = draw(st.none() | valid_emergencies)
    return replace(scenario, emergency=window.at(scenario.now) if window else None)


#: Reads from anywhere in the input space, and reads close to the boundary of allowed.
read_scenarios = random_reads | near_valid_reads()
