"""What a run keeps: pytest-playwright's on / off / retain-on-failure for trace, video and
screenshots. Small on purpose: the CLI declares its options from it without loading the
recording machinery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["on", "off", "retain-on-failure"]
MODES: tuple[Mode, ...] = ("on", "off", "retain-on-failure")


@dataclass(frozen=True)
class ArtifactModes:
    trace: Mode = "off"
    video: Mode = "off"
    screenshot: Mode = "retain-on-failure"

    @property
    def recording(self) -> bool:
        """Anything beyond a failure picture: the page then blurs what is sensitive."""
        return self.trace != "off" or self.video != "off" or self.screenshot == "on"


def kept(mode: Mode, failed: bool) -> bool:
    return mode == "on" or (mode == "retain-on-failure" and failed)
