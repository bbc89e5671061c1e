"""Whether anything else used the CPU while a benchmark ran: timing ratios only mean something on an idle machine.

The load average counts the benchmark itself (a run on both cores leaves it near 2 for minutes), so it cannot tell
a busy machine from a busy benchmark. :class:`OtherWork` instead takes the machine's busy CPU time from
``/proc/stat`` and subtracts this process's own (and its children's): what is left is other programs' work.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from typing import Self

TICKS = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float | None:
    """Busy CPU seconds of the whole machine since boot, or ``None`` where ``/proc/stat`` is not there."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS


def _own_busy() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class OtherWork:
    """Measure other programs' CPU use around a block: ``with OtherWork() as other: …; other.share``.

    ``share`` is their CPU seconds over the block's wall time times the cores (0: idle, 1: every core busy).
    """

    share: float = 0.0
    load_average: tuple[float, float] = (0.0, 0.0)
    _start: tuple[float | None, float, float, float] = field(default=(None, 0.0, 0.0, 0.0), repr=False)

    def __enter__(self) -> Self:
        self._start = (_machine_busy(), _own_busy(), time.perf_counter(), os.getloadavg()[0])
        return self

    def __exit__(self, *exc: object) -> None:
        machine, own, started, load = self._start
        wall = time.perf_counter() - started
        now = _machine_busy()
        self.load_average = (round(load, 2), round(os.getloadavg()[0], 2))
        if machine is None or now is None or wall <= 0:
            self.share = 0.0
            return
        others = max(0.0, (now - machine) - (_own_busy() - own))
        self.share = others / (wall * (os.cpu_count() or 1))


#: Other programs' share of the CPU above which a run counts as disturbed.
BUSY_SHARE = 0.10
