"""Look for secret values in output and in every file a run wrote.

The files are searched as tests/support/leakcheck.py does it, bytes only (inside zip members
too); the OCR half of that check runs for every end-to-end test at teardown anyway.
"""

from __future__ import annotations

from pathlib import Path

from automation.redaction import Redactor
from tests.support.leakcheck import scan


def leaks(secrets: dict[str, str], texts: dict[str, str], roots: list[Path]) -> list[str]:
    """Where any form of any secret appears: 'stdout: secret key', 'file x: GA seed'..."""
    redactor = Redactor()
    for label, value in secrets.items():
        redactor.add(value, label=label)
    found: list[str] = []
    for name, text in texts.items():
        found += [f"{name}: {label}" for label in redactor.find(text)]
    for finding in scan(roots, secrets, ocr_images=False):
        where = "" if finding.how == "bytes" else f" ({finding.how})"
        found.append(f"{finding.path}{where}: {finding.secret_label}")
    return found
