"""The fault matrix's table: one row per case of tests/e2e/test_fault_matrix.py.

Each case records its row as a user property of its report, which reaches the main process
under xdist too; `summary()` (called from tests/conftest.py's terminal-summary hook) prints
the rows it finds as a table, and says whether any secret was lost or any key made twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

PROPERTY = "fault_matrix_row"
COLUMNS = (
    ("fault", "fault"),
    ("outcome", "outcome"),
    ("status", "exit"),
    ("on_site", "keys on site"),
    ("stored", "keys stored"),
    ("orphans", "orphans listed"),
    ("lost", "lost"),
    ("duplicates", "duplicates"),
    ("seconds", "seconds"),
)
OUTCOME_WIDTH = 100


@dataclass(frozen=True)
class Row:
    order: int  # the case's place in the table
    fault: str
    outcome: str  # "created", "ok", or the error line's message
    status: int
    on_site: int  # keys on the replica after the run (one was made before it)
    stored: int  # of those, held in the store
    orphans: int  # listed by `keys reconcile`
    lost: int  # on the replica, neither stored nor listed: must be 0
    duplicates: int  # keys made beyond the one asked for: must be 0
    seconds: float  # how long the run took

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def rows_of(reports: list[Any]) -> list[Row]:
    rows = []
    for report in reports:
        if getattr(report, "when", "call") != "call":
            continue
        for name, value in getattr(report, "user_properties", ()):
            if name == PROPERTY:
                rows.append(Row(**json.loads(value)))
    return rows


def table(rows: list[Row]) -> list[str]:
    def cell(row: Row, key: str) -> str:
        value = getattr(row, key)
        text = f"{value:.1f}" if isinstance(value, float) else str(value)
        return text if len(text) <= OUTCOME_WIDTH else text[: OUTCOME_WIDTH - 1] + "…"

    widths = [max(len(title), *(len(cell(r, key)) for r in rows)) for key, title in COLUMNS]
    lines = ["  ".join(t.ljust(w) for (_, t), w in zip(COLUMNS, widths, strict=True)).rstrip()]
    for row in rows:
        cells = (cell(row, key).ljust(w) for (key, _), w in zip(COLUMNS, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    lost, twice = sum(r.lost for r in rows), sum(r.duplicates for r in rows)
    verdict = (
        "no lost secret, no duplicate"
        if not lost and not twice
        else f"{lost} key(s) LOST (on HTX, neither stored nor listed), {twice} DUPLICATE(S)"
    )
    lines.append(f"{len(rows)} faults: {verdict}")
    return lines


def summary(terminalreporter: Any) -> None:
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])]
    rows = sorted(rows_of(reports), key=lambda r: r.order)
    if not rows:
        return
    terminalreporter.section("fault matrix")
    for line in table(rows):
        terminalreporter.write_line(line)
