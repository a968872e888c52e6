"""A scenario's HTTP session for the demo: act as a partner's user, print what roles see.

Invented data only. ``Play`` records facts as the partners would, remembers a label per fact
and the plaintexts it sent (to search the disk for later), and prints each role's view of
the case or the refusal it gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Echo = Callable[[str], None]
Who = tuple[str, str]
Token = Callable[[Who], str]
JOINT, META = "zvh_joint_approach", "accountability"
PR: Who = ("zvh", "procesregisseur")
CLERK: Who = ("zvh", "administratief_medewerker")
PO: Who = ("zvh", "privacy_officer")


@dataclass
class Play:
    """One scenario's HTTP session: who does what, and the labels of what was recorded."""

    http: httpx.Client
    token: Token
    echo: Echo
    purpose: str = JOINT
    case_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # fact id -> label
    plaintexts: list[str] = field(default_factory=list)

    def call(self, who: Who, method: str, path: str, body: Any = None, **headers: str) -> Any:
        purpose = META if who == PO else headers.pop("purpose", self.purpose)
        sent = {"Authorization": f"Bearer {self.token(who)}", "X-Purpose": purpose, **headers}
        return self.http.request(method, path, json=body, headers=sent)

    def do(self, who: Who, path: str, body: Any = None, method: str = "POST") -> dict[str, Any]:
        response = self.call(who, method, path, body)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} as {who}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def open(self, referred_by: str, phase: int, purpose: str | None = None) -> None:
        self.purpose = purpose or JOINT
        body = {
            "purpose": self.purpose,
            "legal_basis": "wgs",
            "referred_by": referred_by,
            "phase": phase,
        }
        self.case_id = self.do(PR, "/v1/cases", body)["case_id"]

    def path(self, suffix: str = "") -> str:
        return f"/v1/cases/{self.case_id}{suffix}"

    def subject(self, role: str, identity: dict[str, str] | None = None) -> str:
        body: dict[str, Any] = {"case_role": role}
        if identity:
            body["identity"] = identity
            self.plaintexts.extend(identity.values())
        added = self.do(PR, self.path("/subjects"), body)
        if added.get("identity_fact_id"):
            self.labels[added["identity_fact_id"]] = f"identity of the {role}"
        return str(added["subject_id"])

    def fact(
        self,
        who: Who,
        label: str,
        subjects: list[str],
        categories: list[str],
        text: str,
        sharing: str = "participants",
        partners: tuple[str, ...] = (),
        basis: str = "wgs",
        kind: str = "observation",
        content: dict[str, Any] | None = None,
    ) -> str:
        share: dict[str, Any] = {"level": sharing}
        if partners:
            share["partners"] = list(partners)
        body = {
            "kind": kind,
            "subjects": subjects,
            "categories": categories,
            "purpose": self.purpose,
            "legal_basis": basis,
            "sharing": share,
            "body": content if content is not None else {"text": text},
        }
        fact_id = str(self.do(who, self.path("/facts"), body)["fact_id"])
        self.labels[fact_id] = label
        self.plaintexts.append(text)
        self.plaintexts.extend(_texts_in(content))
        return fact_id

    def show(self, who: Who, note: str = "") -> None:
        """Print what ``who`` sees of the case, or the refusal it gets."""
        name = f"{who[0]}/{who[1]}"
        response = self.call(who, "GET", self.path())
        if response.status_code != 200:
            problem = response.json()
            self.echo(f"  {name:<34} refused: {response.status_code} {problem['title']}{note}")
            return
        view = response.json()
        seen = [
            self.labels.get(f["fact_id"], "?") + ("" if "body" in f else " (metadata)")
            for f in view["facts"]
        ]
        facts = ", ".join(seen) or "no facts"
        self.echo(
            f"  {name:<34} sees: {facts}; withheld {view['withheld']}; "
            f"actions {len(view['actions'])}{note}"
        )

    def refuse(
        self, who: Who, attempt: str, method: str, path: str, body: Any = None, **headers: str
    ) -> None:
        """Try something ``who`` may not do, and print the refusal it gets."""
        response = self.call(who, method, path, body, **headers)
        problem = response.json() if response.status_code >= 400 else {}
        reason = f" ({problem['reason']})" if "reason" in problem else ""
        outcome = f"{response.status_code} {problem.get('title', 'ALLOWED?!')}{reason}"
        self.echo(f"  {who[0] + '/' + who[1]:<34} tries to {attempt}: {outcome}")


def _texts_in(content: dict[str, Any] | None) -> list[str]:
    """Every text of a structured body (its strings and the strings of its lists)."""
    texts: list[str] = []
    for value in (content or {}).values():
        values = value if isinstance(value, list) else [value]
        texts.extend(v for v in values if isinstance(v, str))
    return texts
