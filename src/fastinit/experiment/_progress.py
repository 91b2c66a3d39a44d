"""Progress of long work (sweeps, training): tqdm when installed, else a line on stderr at most once a second;
both with an ETA."""
import math
import sys
import time

__all__ = ["Progress"]


class Progress:
    """``total`` steps, ``initial`` of them already done; ``enabled=False`` shows nothing. ``unit``: tqdm's unit,
    ``units``: the plural in the stderr line."""

    def __init__(self, total, initial=0, enabled=True, desc="", unit="it", units=None):
        self.total, self.done, self.enabled = total, initial, enabled
        self.desc, self.unit, self.units = desc, unit, units or unit + "s"
        self.start, self.last, self.bar = time.perf_counter(), 0.0, None
        self.initial = initial
        if enabled:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc)
            except ImportError:
                pass

    def update(self, n=1):
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if now - self.last >= 1.0 or self.done == self.total:
            self.last = now
            rate = (self.done - self.initial) / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else math.inf
            print(f"\r{self.desc}: {self.done}/{self.total} {self.units}, {rate:.1f}/s, ETA {eta:.0f} s", end="",
                  file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            print(file=sys.stderr)
