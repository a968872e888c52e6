"""The printable HTML page of an access report (AVG art. 15). Everything is escaped."""

from __future__ import annotations

import json
from html import escape

from projections import AccessReport

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;"
    "width:100%;margin-bottom:1.5em}td,th{border:1px solid #999;padding:.3em;text-align:left;"
    "vertical-align:top}h2{margin-top:1.5em}@media print{body{margin:0}}"
)


_FACT_HEADER = (
    "<tr><th>Soort</th><th>Categorieën</th><th>Doel</th><th>Grondslag</th><th>Vastgelegd</th>"
    "<th>Bewaard tot</th><th>Inhoud</th></tr>"
)


def render_access_report(report: AccessReport) -> str:
    parts = [
        "<!doctype html><html lang='nl'><head><meta charset='utf-8'>",
        f"<title>Inzageverzoek (AVG art. 15) - {escape(report.subject_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Overzicht van verwerkte gegevens (AVG artikel 15)</h1>",
        f"<p>Betrokkene: <code>{escape(report.subject_id)}</code>; casus "
        f"<code>{escape(report.case_id)}</code>; opgesteld {escape(report.generated_at)}.</p>",
    ]
    for owner, facts in sorted(report.by_owner().items()):
        parts.append(f"<h2>Bron: {escape(owner)}</h2><table>{_FACT_HEADER}")
        for fact in facts:
            content = (
                f"<pre>{escape(json.dumps(fact.body, ensure_ascii=False, indent=1))}</pre>"
                if fact.body is not None
                else f"<em>niet verstrekt: {escape(fact.withheld_reason or '')}</em>"
            )
            parts.append(
                f"<tr><td>{escape(fact.kind)}</td><td>{escape(', '.join(fact.categories))}</td>"
                f"<td>{escape(fact.purpose)}</td><td>{escape(fact.legal_basis)}</td>"
                f"<td>{escape(fact.recorded_at)}</td>"
                f"<td>{escape(fact.retention_until or 'tot einde casus')}</td>"
                f"<td>{content}</td></tr>"
            )
        parts.append("</table>")
    parts.append(
        "<h2>Ontvangers</h2><table><tr><th>Organisatie</th><th>Inzages</th>"
        "<th>Eerste</th><th>Laatste</th></tr>"
    )
    for r in report.recipients:
        parts.append(
            f"<tr><td>{escape(r.org)}</td><td>{r.reads}</td>"
            f"<td>{escape(r.first_read)}</td><td>{escape(r.last_read)}</td></tr>"
        )
    parts.append("</table>")
    if report.erased_facts:
        parts.append(f"<p>{report.erased_facts} gegeven(s) zijn gewist of ingetrokken.</p>")
    parts.append("</body></html>")
    return "".join(parts)
