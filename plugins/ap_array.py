"""Bit-level functional model of one Associative Processor (:mod:`cimscope.plugins.ap_programs`): the tests
run the LUT pass programs on it to prove they compute what they claim and to count their passes."""
from __future__ import annotations

from typing import Optional

from cimscope.plugins.ap_programs import Pass


class ApArray:
    """Bit-level model of one AP: named fields of bit columns over ``rows`` words, tag-based passes."""

    def __init__(self, rows: int, widths: dict[str, int]) -> None:
        import numpy as np
        self._np = np
        self.rows = rows
        self.bits = {f: np.zeros((rows, w), dtype=np.uint8) for f, w in widths.items()}
        self.compares = 0
        self.writes = 0

    def load(self, fld: str, values) -> None:
        np = self._np
        v = np.asarray(values, dtype=np.int64)
        w = self.bits[fld].shape[1]
        u = np.where(v < 0, v + (1 << w), v)
        for i in range(w):
            self.bits[fld][:, i] = (u >> i) & 1

    def value(self, fld: str, signed: bool = False, width: Optional[int] = None):
        np = self._np
        b = self.bits[fld][:, : (width or self.bits[fld].shape[1])].astype(np.int64)
        w = b.shape[1]
        u = (b << np.arange(w)).sum(axis=1)
        return np.where(u >= (1 << (w - 1)), u - (1 << w), u) if signed else u

    def run(self, prog: list[Pass]) -> None:
        np = self._np
        for p in prog:
            tags = np.ones(self.rows, dtype=bool)
            for (f, i), v in p.key:
                tags &= self.bits[f][:, i] == v
            self.compares += p.compares
            for (f, i), v in p.write:
                self.bits[f][tags, i] = v
            self.writes += 1
