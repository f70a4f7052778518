"""A dependency-free progress bar on stderr (TensorFlow-free paths use it; Keras has its own).

On a terminal it redraws one line; otherwise (logs, CI) it prints a line at every 10%.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int | None, desc: str = "", enabled: bool = True, stream=None):
        self.total = total
        self.desc = desc
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.count = 0
        self.t0 = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._next_pct = 10

    def update(self, n: int = 1, note: str = "") -> None:
        self.count += n
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.t0
        if self.total:
            frac = min(self.count / self.total, 1.0)
            eta = elapsed / frac - elapsed if frac > 0 else 0.0
            if self._tty:
                bar = "=" * int(frac * 30)
                self.stream.write(f"\r{self.desc} [{bar:<30}] {self.count}/{self.total} "
                                  f"{elapsed:.0f}s (eta {eta:.0f}s) {note}")
                self.stream.flush()
            elif 100 * frac >= self._next_pct:
                self.stream.write(f"{self.desc}: {self.count}/{self.total} ({100 * frac:.0f}%) "
                                  f"{elapsed:.0f}s {note}\n")
                self._next_pct = 10 * (int(10 * frac) + 1)
        elif self._tty:
            self.stream.write(f"\r{self.desc} {self.count} {elapsed:.0f}s {note}")

    def close(self, note: str = "") -> None:
        if not self.enabled:
            return
        if self._tty:
            self.stream.write("\n")
        elapsed = time.perf_counter() - self.t0
        if note:
            self.stream.write(f"{self.desc}: {self.count} done in {elapsed:.1f}s {note}\n")
        self.stream.flush()
