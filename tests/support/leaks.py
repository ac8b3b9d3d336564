"""Look for secret values in output and in every file a run wrote."""

from __future__ import annotations

from pathlib import Path

from automation.redaction import Redactor


def leaks(secrets: dict[str, str], texts: dict[str, str], roots: list[Path]) -> list[str]:
    """Where any form of any secret appears: 'stdout: secret key', 'file x: GA seed'..."""
    redactor = Redactor()
    for label, value in secrets.items():
        redactor.add(value, label=label)
    found: list[str] = []
    for name, text in texts.items():
        found += [f"{name}: {label}" for label in redactor.find(text)]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found += [f"{path}: {label}" for label in redactor.find(path.read_bytes())]
    return found
