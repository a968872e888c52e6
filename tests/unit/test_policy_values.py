"""Decision values and inputs: consistency is enforced, reasons are closed and documented."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from datetime import datetime

import pytest

import policies
from policies import (
    AccessDecision,
    CaseStatus,
    ConsentState,
    Disclosure,
    EmergencyRequest,
    LegalHold,
    NotificationDecision,
    Participation,
    PartnerId,
    PolicyError,
    ReasonCode,
    Sharing,
    SharingLevel,
    Withheld,
    explain,
    withheld_reason,
)
from tests.strategies import T0, at, case, consent, fact, members

R = ReasonCode
NAIVE = datetime(2026, 1, 5, 9)  # naive on purpose: refusing it is what is tested


class TestReasonCodes:
    """The code set is closed, each code documented in the table and explained in one line."""

    def test_docstring_table_lists_every_code(self) -> None:
        doc = ReasonCode.__doc__ or ""
        rows = re.findall(r"^\s{4}([a-z_]+)\s+(yes|no)\s", doc, flags=re.MULTILINE)
        assert [code for code, _ in rows] == [code.value for code in ReasonCode]
        assert all((grants == "yes") == ReasonCode(code).grants for code, grants in rows)

    def test_every_code_has_a_description(self) -> None:
        for code in ReasonCode:
            assert code.description
            assert code.description[0].islower()

    def test_brief_codes_exist(self) -> None:
        required = [
            *("allowed_owner", "allowed_sharing", "allowed_regie", "allowed_named_partner"),
            *("allowed_consent", "privacy_officer_metadata", "emergency_granted"),
            *("not_participant", "participant_removed", "purpose_incompatible"),
            *("purpose_unknown", "sharing_excludes_reader", "consent_absent_or_withdrawn"),
            *("special_category_requires_named_partner", "case_closed", "case_not_active"),
            *("retention_expired", "erased", "role_excludes_facts", "role_not_permitted"),
            *("not_owner", "emergency_reason_missing", "emergency_window_expired"),
            *("emergency_role_not_permitted", "concerns_other_subjects", "legal_hold"),
        ]
        assert set(required) <= {code.value for code in ReasonCode}


class TestAccessDecision:
    """A decision cannot contradict itself, and explains itself in one line."""

    @pytest.mark.parametrize(
        ("allowed", "reason", "emergency", "disclosure", "message"),
        [
            (True, R.case_closed, False, Disclosure.content, "cannot go with allowed=True"),
            (False, R.allowed_owner, False, Disclosure.none, "cannot go with allowed=False"),
            (True, R.allowed_owner, False, Disclosure.none, "disclosure none cannot go"),
            (False, R.erased, False, Disclosure.metadata, "disclosure metadata cannot go"),
            (True, R.allowed_owner, True, Disclosure.content, "emergency=True cannot go"),
            (True, R.emergency_granted, False, Disclosure.content, "emergency=False cannot go"),
        ],
    )
    def test_inconsistent_decisions_are_refused(
        self,
        allowed: bool,
        reason: ReasonCode,
        emergency: bool,
        disclosure: Disclosure,
        message: str,
    ) -> None:
        with pytest.raises(PolicyError, match=message):
            AccessDecision(allowed, reason, "b", emergency=emergency, disclosure=disclosure)

    def test_frozen(self) -> None:
        decision = AccessDecision(False, R.erased, "fact erased", disclosure=Disclosure.none)
        with pytest.raises(FrozenInstanceError):
            decision.allowed = True  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("decision", "line"),
        [
            (
                AccessDecision(
                    False,
                    R.special_category_requires_named_partner,
                    "b",
                    disclosure=Disclosure.none,
                ),
                "denied: special_category_requires_named_partner "
                "(health and criminal facts reach only partners named by the owner)",
            ),
            (
                AccessDecision(True, R.allowed_owner, "b", disclosure=Disclosure.content),
                "allowed: allowed_owner "
                "(the reader's organisation contributed the fact and remains its owner)",
            ),
            (
                AccessDecision(
                    True, R.privacy_officer_metadata, "b", disclosure=Disclosure.metadata
                ),
                "allowed (metadata only): privacy_officer_metadata "
                "(the privacy officer sees metadata of everything, no content)",
            ),
            (
                AccessDecision(
                    True, R.emergency_granted, "b", emergency=True, disclosure=Disclosure.content
                ),
                "allowed (emergency): emergency_granted "
                "(emergency access granted for a limited time; reviewed afterwards)",
            ),
        ],
    )
    def test_explain(self, decision: AccessDecision, line: str) -> None:
        assert explain(decision) == line


def refused(reason: ReasonCode) -> AccessDecision:
    return AccessDecision(False, reason, "test", disclosure=Disclosure.none)


class TestWithheld:
    """One bucketing of refused fact reads for every view's ``withheld_by_reason``."""

    def test_not_shared_depends_on_the_sharing_level(self) -> None:
        unshared = refused(R.sharing_excludes_reader)
        assert withheld_reason(unshared, owner_level=True) is Withheld.owner_only
        assert withheld_reason(unshared, owner_level=False) is Withheld.not_shared

    @pytest.mark.parametrize(
        ("reason", "bucket"),
        [
            (R.consent_withdrawn, Withheld.consent_withdrawn),
            (R.participant_removed, Withheld.not_participant),
            (R.retracted, Withheld.erased),
            (R.emergency_expired, Withheld.emergency),
            (R.concerns_other_subjects, Withheld.other),
        ],
    )
    def test_reasons_map_to_buckets(self, reason: ReasonCode, bucket: Withheld) -> None:
        for owner_level in (True, False):
            assert withheld_reason(refused(reason), owner_level=owner_level) is bucket


class TestInputs:
    """Inputs refuse naive times and contradictory states; views are read-only."""

    def test_an_emergency_grant_ends_after_it_starts(self) -> None:
        with pytest.raises(PolicyError, match="must end after it starts"):
            EmergencyRequest("reason", T0, T0)

    @pytest.mark.parametrize(
        "build",
        [
            lambda: fact(recorded_at=NAIVE),
            lambda: Participation(PartnerId("ggz"), NAIVE),
            lambda: Participation(PartnerId("ggz"), T0, NAIVE),
            lambda: consent(given_at=NAIVE),
            lambda: consent(withdrawn_at=NAIVE),
            lambda: LegalHold("h", "complaint", NAIVE),
            lambda: LegalHold("h", "complaint", T0, NAIVE),
            lambda: EmergencyRequest("reason", NAIVE, T0),
            lambda: EmergencyRequest("reason", T0, NAIVE),
            lambda: NotificationDecision("defer", NAIVE),
            lambda: case(closed_at=NAIVE),
        ],
    )
    def test_naive_times_are_refused(self, build: object) -> None:
        assert callable(build)
        with pytest.raises(PolicyError, match="must be timezone-aware"):
            build()

    def test_case_state_consistency(self) -> None:
        with pytest.raises(PolicyError, match="status active needs decided_at"):
            case(decided_at=None)
        with pytest.raises(PolicyError, match="status closed needs closed_at"):
            case(CaseStatus.closed)

    def test_participants_are_a_read_only_copy(self) -> None:
        given = members("zvh")
        state = case(participants=given)
        given.clear()
        assert list(state.participants) == ["zvh"]
        with pytest.raises(TypeError):
            state.participants[PartnerId("om")] = Participation(PartnerId("om"), T0)  # type: ignore[index]

    def test_sharing(self) -> None:
        with pytest.raises(PolicyError, match="sharing level participants names no partners"):
            Sharing(SharingLevel.participants, frozenset({PartnerId("ggz")}))
        assert Sharing(SharingLevel.regie).describe() == "regie"

    def test_participation_is_active_between_invitation_and_removal(self) -> None:
        ggz = PartnerId("ggz")
        member = Participation(ggz, at(1), removed_at=at(3))
        assert [member.is_active(at(d)) for d in (0, 1, 2, 3)] == [False, True, True, False]
        state = case(participants={ggz: member})
        assert state.is_active_participant(ggz, at(2))
        assert not state.is_active_participant(ggz, at(3))
        assert not state.is_active_participant(PartnerId("om"), at(2))

    def test_consent_in_force(self) -> None:
        given: ConsentState = consent(given_at=at(1), withdrawn_at=at(3))
        assert [given.is_in_force(at(d)) for d in (0, 1, 2, 3)] == [False, True, True, False]


class TestPackageSurface:
    """The public API is exported from ``policies`` with a sorted ``__all__``."""

    def test_all_is_sorted_and_complete(self) -> None:
        assert policies.__all__ == sorted(policies.__all__)
        for name in policies.__all__:
            assert hasattr(policies, name)
