"""An acknowledgement report as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from intrablog.domain.model import AckReport

CSV_HEADER = ("username", "display_name", "department", "status", "acknowledged_at")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): display names and
# departments come from the directory, where anyone able to edit their own entry could plant one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """The value, with a leading apostrophe when a spreadsheet would read it as a formula (OWASP's advice)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def report_csv(report: AckReport) -> str:
    """One row per person: who acknowledged (oldest first, with the time), then who has not (by department)."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: quotes what needs it, CRLF line ends
    writer.writerow(CSV_HEADER)
    for ack in report.acknowledged:
        row = (ack.username, ack.display_name, ack.department or "", "acknowledged", ack.at.isoformat())
        writer.writerow([safe_cell(cell) for cell in row])
    for person in report.pending:
        row = (person.username, person.display_name, person.department or "", "pending", "")
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def report_filename(post_id: int) -> str:
    return f"acknowledgements-{post_id}.csv"
