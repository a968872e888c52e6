"""A casusoverleg (case conference) in the demo: two cases on one agenda.

Invented data only. The procesregisseur plans a meeting with two cases on its agenda and
invites, per item, the partners that case needs (the housing corporation only to the first).
Partners record their pictures of the shared starting point, the procesregisseur the shared
goal; the clerk records attendance and minutes, the chair approves them, an action comes out
of the meeting. Then each role says what it sees of the meeting, the minutes, the starting
point and its actions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from demo._play import CLERK, PO, PR, Play, Who

GGZ: Who = ("ggz", "deelnemer")
CORPORATION: Who = ("woningcorporatie", "deelnemer")
MUNICIPALITY: Who = ("gemeente", "deelnemer")
PROBATION: Who = ("reclassering", "deelnemer")


def _case(play: Play, participants: tuple[str, ...]) -> tuple[str, str]:
    """A new accepted case with one subject and ``participants``; returns (case, subject)."""
    play.open("politie", 3)
    play.do(PR, play.path("/triage"), {"decision": "accept", "reason": "conference demo"})
    subject = play.subject("client")
    for org in participants:
        play.do(PR, play.path("/participants"), {"org": org})
    return play.case_id, subject


def conference(play: Play) -> None:
    """Casusoverleg: two cases, one agenda, a partner invited to one item only."""
    play.echo("Casusoverleg: two cases on one agenda; the corporation invited to the first only")
    first, first_subject = _case(play, ("ggz",))
    second, _ = _case(play, ("gemeente", "reclassering"))
    when = (datetime.now(tz=UTC) + timedelta(days=7)).replace(microsecond=0)
    meeting = play.do(
        PR, "/v1/meetings", {"scheduled_at": when.isoformat(), "place": "ZVH, zaal 2"}
    )["meeting_id"]
    base = f"/v1/meetings/{meeting}"
    item_one = play.do(
        PR, f"{base}/agenda", {"case_id": first, "invited": ["ggz", "woningcorporatie"]}
    )["item_id"]
    item_two = play.do(PR, f"{base}/agenda", {"case_id": second, "invited": ["gemeente"]})[
        "item_id"
    ]

    play.case_id = first
    play.fact(
        GGZ,
        "GGZ picture",
        [first_subject],
        ["care_need"],
        "Beeld GGZ: kansen en bedreigingen (invented-SP1)",
        "participants",
        kind="shared_starting_point",
        content={
            "picture": "Beeld GGZ: kansen en bedreigingen (invented-SP1)",
            "chances": ["Netwerk van familie (invented-SP1a)"],
            "threats": ["Schulden lopen op (invented-SP1b)"],
        },
    )
    play.fact(
        PR,
        "shared goal",
        [first_subject],
        ["plan"],
        "Gedeeld doel: rust in huis (invented-SP2)",
        kind="shared_starting_point",
        content={"goal": "Gedeeld doel: rust in huis (invented-SP2)"},
    )
    play.do(
        CLERK,
        f"{base}/agenda/{item_one}/attendance",
        {"partners": ["zvh", "ggz", "woningcorporatie"], "users": ["ggz-deelnemer"]},
    )
    minutes_text = "Notulen punt 1: afspraken over begeleiding (invented-MN1)"
    play.plaintexts.append(minutes_text)
    minutes = play.do(
        CLERK,
        f"{base}/agenda/{item_one}/minutes",
        {"body": {"text": minutes_text}, "subjects": [first_subject]},
    )["minutes_id"]
    _show_minutes(play, first, [CORPORATION], " (draft)")
    play.do(PR, f"{base}/agenda/{item_one}/minutes/{minutes}/approve", {})
    due = (datetime.now(tz=UTC) + timedelta(days=14)).date().isoformat()
    play.do(
        CLERK,
        play.path("/actions"),
        {
            "assignee": "woningcorporatie",
            "what": "Huisbezoek plannen",
            "due": due,
            "meeting": meeting,
            "item": item_one,
        },
    )
    play.case_id = second
    play.do(CLERK, f"{base}/agenda/{item_two}/attendance", {"partners": ["zvh", "gemeente"]})
    play.do(PR, f"{base}/close", {"next_at": (when + timedelta(days=28)).isoformat()})

    for who in (PR, CLERK, GGZ, CORPORATION, MUNICIPALITY, PROBATION, PO):
        _show_meeting(play, who, base, {first: "case 1", second: "case 2"})
    _show_minutes(play, first, [CORPORATION, GGZ, CLERK, PO], " (final)")
    play.case_id = first
    for who in (GGZ, CORPORATION, CLERK):
        _show_starting_point(play, who)
    for who in (CORPORATION, MUNICIPALITY):
        _show_actions(play, who)
    play.refuse(
        MUNICIPALITY,
        "write minutes (the clerk's task)",
        "POST",
        f"{base}/agenda/{item_two}/minutes",
        {"body": {"text": "x"}},
    )


def _show_meeting(play: Play, who: Who, path: str, names: dict[str, str]) -> None:
    name = f"{who[0]}/{who[1]}"
    response = play.call(who, "GET", path)
    if response.status_code != 200:
        play.echo(f"  {name:<34} meeting: refused {response.status_code}")
        return
    view: dict[str, Any] = response.json()
    items = [
        f"{names.get(i['case_id'], '?')} (present {', '.join(i['present_partners']) or '-'};"
        f" minutes {len(i['minutes'])}; actions {len(i['actions'])})"
        for i in view["items"]
    ]
    play.echo(
        f"  {name:<34} meeting: {'; '.join(items) or 'no items'};"
        f" items not shown {view['hidden_items']}"
    )


def _show_minutes(play: Play, case_id: str, readers: list[Who], note: str) -> None:
    for who in readers:
        name = f"{who[0]}/{who[1]}"
        response = play.call(who, "GET", f"/v1/cases/{case_id}/minutes")
        if response.status_code != 200:
            play.echo(f"  {name:<34} minutes{note}: refused {response.status_code}")
            continue
        shown = response.json()["minutes"]
        opened = sum(1 for m in shown if "body" in m and m["body"] is not None)
        play.echo(f"  {name:<34} minutes{note}: {len(shown)} shown, {opened} with their text")


def _show_starting_point(play: Play, who: Who) -> None:
    name = f"{who[0]}/{who[1]}"
    response = play.call(who, "GET", play.path("/starting-point"))
    if response.status_code != 200:
        problem = response.json()
        play.echo(f"  {name:<34} starting point: refused {response.status_code} {problem['title']}")
        return
    point = response.json()
    owners = ", ".join(p["owner"] for p in point["pictures"]) or "none"
    goal = "yes" if point.get("goal") else "no"
    play.echo(
        f"  {name:<34} starting point: pictures of {owners}; goal {goal};"
        f" withheld {point['withheld']}"
    )


def _show_actions(play: Play, who: Who) -> None:
    name = f"{who[0]}/{who[1]}"
    page = play.call(who, "GET", "/v1/actions?assignee=me&status=open").json()
    whats = ", ".join(a["what"] for a in page["actions"]) or "none"
    play.echo(f"  {name:<34} own open actions across cases: {whats}")
