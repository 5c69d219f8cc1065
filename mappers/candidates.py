"""Candidate mappings as arrays (levels innermost first, like :class:`cimscope.model.fast.Batch`):
``tf, sf [N, L, D]`` factors, ``sx_dim [N, L, D]`` (True: the spatial factor of that dimension goes along the
mesh's X axis), ``tperm [N, L, D]`` (dimension indices, innermost loop first) and ``keep [N, L, S]``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cimscope.model.fast import Batch


def prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


@dataclass
class Candidates:
    tf: np.ndarray
    sf: np.ndarray
    sx_dim: np.ndarray
    tperm: np.ndarray
    keep: np.ndarray

    @property
    def n(self) -> int:
        return self.tf.shape[0]

    def batch(self) -> Batch:
        sx = np.prod(np.where(self.sx_dim, self.sf, 1), axis=2)
        sy = np.prod(np.where(self.sx_dim, 1, self.sf), axis=2)
        return Batch(tf=self.tf, sf=self.sf, tperm=self.tperm, keep=self.keep, sx=sx, sy=sy)

    def take(self, idx) -> "Candidates":
        return Candidates(self.tf[idx], self.sf[idx], self.sx_dim[idx], self.tperm[idx], self.keep[idx])

    @staticmethod
    def concat(parts: list["Candidates"]) -> "Candidates":
        return Candidates(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                            ("tf", "sf", "sx_dim", "tperm", "keep")))

    def keys(self) -> list[bytes]:
        """One byte string per candidate (equal candidates, equal keys): its arrays' bytes side by side."""
        n = self.n
        rows = np.concatenate([np.ascontiguousarray(a).reshape(n, -1).view(np.uint8).reshape(n, -1)
                               for a in (self.tf, self.sf, self.sx_dim, self.tperm, self.keep)], axis=1)
        return [r.tobytes() for r in rows]
