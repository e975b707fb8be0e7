"""A simulated barcode scanner in serial (USB-CDC) mode: it pushes each scan down the link."""

from __future__ import annotations

import logging
import time

from devices.scanner import GS, SUFFIXES, ScannerSettings
from firmware_sim.links import Link

logger = logging.getLogger(__name__)


class SimScanner:
    """Sends scans framed the way a scanner configured with `settings` would.

    FNC1 inside a code (given as GS) goes out as the first configured separator, the AIM
    symbology id is sent only when `settings.aim_prefix` is on, and the suffix ends each scan.
    """

    def __init__(
        self,
        link: Link,
        settings: ScannerSettings | None = None,
        *,
        chunk_size: int | None = None,
        char_delay_s: float = 0.0,
    ) -> None:
        """Args:
        link: The device end of the link.
        settings: The scanner configuration to imitate.
        chunk_size: Split each scan into writes of this many bytes (partial frames).
        char_delay_s: Pause between chunks (a slow scanner or a busy USB hub).
        """
        self.link = link
        self.settings = settings or ScannerSettings()
        self.chunk_size = chunk_size
        self.char_delay_s = char_delay_s

    def frame(self, code: str, symbology: str | None = "]C1") -> bytes:
        """The bytes one scan of `code` produces."""
        text = code.replace(GS, self.settings.separators[0])
        if self.settings.aim_prefix and symbology:
            text = symbology + text
        return text.encode("ascii") + SUFFIXES[self.settings.suffix]

    def scan(self, code: str, symbology: str | None = "]C1") -> None:
        """Scan `code` (a GS1 element string with GS separators, or any text)."""
        self.send_raw(self.frame(code, symbology))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are: line noise, a misconfigured scanner."""
        if not self.chunk_size:
            self.link.write(data)
            return
        for start in range(0, len(data), self.chunk_size):
            if start and self.char_delay_s:
                time.sleep(self.char_delay_s)
            self.link.write(data[start : start + self.chunk_size])
