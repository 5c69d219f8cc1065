"""The mapspace of one (problem, architecture, constraints): factorizations of every dimension over the
levels' temporal and spatial (X/Y) slots, loop permutations per level, and keep/bypass choices.

Candidates live in arrays (levels innermost first, like :class:`cimscope.model.fast.Batch`):
``tf, sf [N, L, D]`` factors, ``sx_dim [N, L, D]`` (True: the spatial factor of that dimension goes along
the mesh's X axis), ``tperm [N, L, D]`` (dimension indices, innermost loop first) and ``keep [N, L, S]``.

Sampling assigns each prime factor of each dimension to a random slot; a prime that would push a level's
spatial product above its X (or Y) fanout goes to that level's temporal slot instead, so every sample fits
the fanouts. Timeloop-style constraints are honoured: exact factors (``D=n``; ``D=0`` takes all that is
left of D), bounds (``D<=n``, ``D>=n``) and spatial utilization bounds filter candidates, partial
permutations fix the innermost loops, keep/bypass fix the masks. Dummy storage levels bypass everything
unless told otherwise.
"""
from __future__ import annotations

import functools

import numpy as np

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.mappers import moves
from cimscope.mappers.candidates import Candidates, prime_factors  # noqa: F401  (prime_factors: public name)
from cimscope.model.fast import batch_from_mappings
from cimscope.model.streams import box_size, extents
from cimscope.model.nest import coefficient, hardware_fanouts
from cimscope.timeloop.constraints import Constraints
from cimscope.timeloop.parsing import perm_list, perm_str


class MapSpace:
    def __init__(self, problem: ir.Problem, arch: ir.Arch, constraints=None, *, explore_bypass: bool = True):
        self.problem, self.arch = problem, arch
        self.dims = list(problem.dims)
        self.D = len(self.dims)
        self.sizes = np.array([problem.dims[d] for d in self.dims], dtype=np.int64)
        self.levels = list(reversed(arch.levels))            # innermost first
        self.L = len(self.levels)
        self.ds = [t.name for t in problem.dataspaces]
        self.S = len(self.ds)
        if constraints is None:
            constraints = Constraints()
        self.constraints = constraints
        fxy = hardware_fanouts(arch)
        fx, fy = [x for x, _ in fxy], [y for _, y in fxy]
        self.fx, self.fy = np.array(fx), np.array(fy)
        didx = {d: i for i, d in enumerate(self.dims)}
        # Slots: (level, kind) with kind 0 = temporal, 1 = spatial X, 2 = spatial Y.
        self.slots: list[tuple[int, int]] = []
        for s in range(self.L):
            self.slots.append((s, 0))
            if fx[s] > 1:
                self.slots.append((s, 1))
            if fy[s] > 1:
                self.slots.append((s, 2))
        self._read_constraints(constraints, fx, fy, didx)
        self.explore_bypass = explore_bypass
        self._capacities(didx)
        self._factor_slots()

    def _read_constraints(self, constraints, fx: list[int], fy: list[int], didx: dict[str, int]) -> None:
        """Exact factors, bounds, fixed permutations, spatial axes and keep/bypass per level; dummy levels
        bypass everything and the outermost keeps what is not told otherwise (Timeloop's default)."""
        arch = self.arch
        # Constraints per level.
        self.fixed = {}                    # (s, kind01, d) -> value (kind01: 0 temporal, 1 spatial)
        self.bounds = []                   # (s, kind01, d, op, value)
        self.perm_fix: dict[int, list[int]] = {}
        self.keep_fixed = np.zeros((self.L, self.S), dtype=np.int8)   # 1 keep, -1 bypass, 0 free
        self.util_min = np.zeros(self.L)
        self.util_max = np.ones(self.L)
        self.spatial_axis_fixed: dict[tuple[int, int], int] = {}     # (s, d) -> 1 (X) / 2 (Y)
        level_index = {lv.name: s for s, lv in enumerate(self.levels)}
        for s, lv in enumerate(self.levels):
            for n in lv.keep or []:
                self.keep_fixed[s, self.ds.index(n)] = 1
            for n in lv.bypass or []:
                self.keep_fixed[s, self.ds.index(n)] = -1
        for name, lc in constraints.levels.items():
            if name not in level_index:
                raise InputError(f"constraints: unknown level {name!r}; levels are "
                                 f"{', '.join(lv.name for lv in arch.levels)}")
            s = level_index[name]
            for kind01, facs in ((0, lc.temporal_factors), (1, lc.spatial_factors)):
                for d, (op, v) in facs.items():
                    if kind01 == 1 and fx[s] * fy[s] <= 1 and not (op == "=" and v in (0, 1)):
                        raise InputError(f"constraints: {name} has no spatial fanout; spatial factor {d}{op}{v} "
                                         f"cannot be met")
                    if op == "=":
                        self.fixed[(s, kind01, didx[d])] = v
                    else:
                        self.bounds.append((s, kind01, didx[d], op, v))
            if lc.temporal_permutation:
                self.perm_fix[s] = [didx[d] for d in lc.temporal_permutation]
            if lc.spatial_permutation and lc.spatial_split is not None:
                for i, d in enumerate(lc.spatial_permutation):
                    self.spatial_axis_fixed[(s, didx[d])] = 1 if i < lc.spatial_split else 2
            for n in lc.keep:
                self.keep_fixed[s, self.ds.index(n)] = 1
            for n in lc.bypass:
                self.keep_fixed[s, self.ds.index(n)] = -1
            self.util_min[s] = lc.min_utilization
            self.util_max[s] = lc.max_utilization
        for s, lv in enumerate(self.levels):
            if lv.is_dummy:
                for i in range(self.S):
                    if self.keep_fixed[s, i] == 0:
                        self.keep_fixed[s, i] = -1
        # The outermost level keeps everything unless told otherwise (Timeloop's default).
        for i in range(self.S):
            if self.keep_fixed[self.L - 1, i] == 0:
                self.keep_fixed[self.L - 1, i] = 1

    def _capacities(self, didx: dict[str, int]) -> None:
        """Words per instance per level (inf when unbounded) and the projection matrices, for capacity-aware
        sampling."""
        problem, arch = self.problem, self.arch
        self.cap = np.array([np.inf if lv.depth is None else
                             np.floor(lv.depth * lv.block_size / max(lv.multiple_buffering, 1e-12))
                             for lv in self.levels])
        self.P = []
        for t in problem.dataspaces:
            M = np.zeros((len(t.projection), self.D), dtype=np.int64)
            for r, rank in enumerate(t.projection):
                for dn, c in rank:
                    M[r, didx[dn]] += coefficient(problem, c, problem.name)
            self.P.append(M)

    def _factor_slots(self) -> None:
        """Per dimension: what is left after exact factors, its primes, and the slots it may go to."""
        # Per dimension: remaining size after exact factors, primes, and allowed slots.
        self.rem = self.sizes.copy()
        self.all_rest: dict[int, int] = {}           # d -> slot index that takes everything left (factor 0)
        self.primes: list[list[int]] = []
        self.allowed: list[list[int]] = []
        for d in range(self.D):
            for (s, k01, dd), v in self.fixed.items():
                if dd != d or v == 0:
                    continue
                if self.rem[d] % v:
                    raise MappingError(f"constraints: factor {self.dims[d]}={v} at {self.levels[s].name} does not "
                                       f"divide what is left of {self.dims[d]} ({self.rem[d]})")
                self.rem[d] //= v
            allowed = []
            for j, (s, kind) in enumerate(self.slots):
                k01 = 0 if kind == 0 else 1
                if (s, k01, d) in self.fixed:
                    if self.fixed[(s, k01, d)] == 0:
                        if kind == 0 or self._axis_ok(s, d, kind):
                            self.all_rest[d] = j
                    continue
                if kind and (s, d) in self.spatial_axis_fixed and self.spatial_axis_fixed[(s, d)] != kind:
                    continue
                allowed.append(j)
            if not allowed and self.rem[d] > 1 and d not in self.all_rest:
                fixed = ", ".join(f"{self.levels[s].name} {'spatial' if k01 else 'temporal'} {self.dims[d]}={v}"
                                  for (s, k01, dd), v in sorted(self.fixed.items(), key=lambda kv: (-kv[0][0], kv[0][1]))
                                  if dd == d)
                raise MappingError(f"constraints fix every factor of {self.dims[d]} ({fixed}) but they multiply to "
                                   f"{self.sizes[d] // self.rem[d]}, not {self.sizes[d]}")
            self.allowed.append(allowed)
            self.primes.append(prime_factors(int(self.rem[d])))

    def _axis_ok(self, s: int, d: int, kind: int) -> bool:
        return self.spatial_axis_fixed.get((s, d), kind) == kind

    def canonical(self, c: Candidates) -> Candidates:
        """Loops of bound 1 do not exist in Timeloop's nest: move them to the outer end of each permutation
        (in dimension order) so equivalent candidates compare equal; constrained innermost loops stay first."""
        D = self.D
        bound = np.take_along_axis(c.tf, c.tperm, axis=2)
        key = np.where(bound > 1, np.arange(D)[None, None, :], D + c.tperm).astype(np.int64)
        for s, fixed in self.perm_fix.items():
            for i, d in enumerate(fixed):
                key[:, s, :] = np.where(c.tperm[:, s, :] == d, -len(fixed) + i, key[:, s, :])
        order = np.argsort(key, axis=2, kind="stable")
        return Candidates(c.tf, c.sf, c.sx_dim, np.take_along_axis(c.tperm, order, axis=2), c.keep)

    # -----------------------------------------------------------------------------------------------------
    def _base(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tf = np.ones((n, self.L, self.D), dtype=np.int64)
        sf = np.ones((n, self.L, self.D), dtype=np.int64)
        sxd = np.ones((n, self.L, self.D), dtype=bool)
        for (s, k01, d), v in self.fixed.items():
            if v == 0:
                continue
            if k01 == 0:
                tf[:, s, d] *= v
            else:
                sf[:, s, d] *= v
                sxd[:, s, d] = self.spatial_axis_fixed.get((s, d), 1) == 1
        return tf, sf, sxd

    def _used(self, f: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Words per instance used at each level [n, L] by the kept tiles, for factors f [n, L, D]."""
        E = extents(f)
        used = np.zeros(f.shape[:2])
        for k, M in enumerate(self.P):
            used += box_size(M, E) * keep[:, :, k]
        return used

    def sample(self, rng: np.random.Generator, n: int) -> Candidates:
        """``n`` random candidates that fit every fanout and every exact constraint; a prime factor that would
        overflow a level's capacity goes to the temporal slot of the next level up instead.

        Two styles of candidates: (a) each prime goes to a random slot, a random share of them to spatial
        slots; (b) "structured": each spatial slot is given one or two preferred dimensions whose primes
        fill it first (good mappings use the fanout with few dimensions), the rest go to temporal slots."""
        tf, sf, sxd = self._base(n)
        keep = self._keeps(rng, n)
        xprod = np.prod(np.where(sxd, sf, 1), axis=2)
        yprod = np.prod(np.where(sxd, 1, sf), axis=2)
        rows = np.arange(n)
        order = [(d, p) for d in range(self.D) for p in self.primes[d]]
        rng.shuffle(order)
        p_spatial = rng.random(n) * 0.8
        structured = rng.random(n) < 0.5
        pref = self._preferences(rng, n)
        slot_lvl = np.array([sl[0] for sl in self.slots])
        slot_kind = np.array([sl[1] for sl in self.slots])
        for d, p in order:
            j = self._pick_slots(rng, n, d, p, p_spatial, structured, pref, xprod, yprod)
            lvl, kind = self._redirect(d, p, slot_lvl[j].copy(), slot_kind[j].copy(), tf, sf, keep, xprod, yprod)
            t = kind == 0
            tf[rows[t], lvl[t], d] *= p
            x = kind == 1
            sf[rows[x], lvl[x], d] *= p
            sxd[rows[x], lvl[x], d] = True
            xprod[rows[x], lvl[x]] *= p
            y = kind == 2
            sf[rows[y], lvl[y], d] *= p
            sxd[rows[y], lvl[y], d] = False
            yprod[rows[y], lvl[y]] *= p
        tperm = self._perms(rng, n)
        return self.canonical(Candidates(tf, sf, sxd, tperm, keep))

    def _preferences(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """[n, slots, D]: one or two preferred dimensions per spatial slot (structured candidates)."""
        pref = np.zeros((n, len(self.slots), self.D), dtype=bool)
        for j, sl in enumerate(self.slots):
            if sl[1] == 0:
                continue
            cand_dims = [d for d in range(self.D) if j in self.allowed[d] and self.primes[d]]
            if not cand_dims:
                continue
            k = rng.integers(1, 3, n)
            for _ in range(2):
                pick = np.array(cand_dims)[rng.integers(0, len(cand_dims), n)]
                sel = k > 0
                pref[np.arange(n)[sel], j, pick[sel]] = True
                k -= 1
        return pref

    def _pick_slots(self, rng, n: int, d: int, p: int, p_spatial, structured, pref, xprod, yprod) -> np.ndarray:
        """The slot of prime ``p`` of dimension ``d`` per candidate."""
        if d in self.all_rest:
            return np.full(n, self.all_rest[d])
        rows = np.arange(n)
        allowed = np.array(self.allowed[d])
        j = allowed[rng.integers(0, len(allowed), n)]
        sp = [a for a in allowed if self.slots[a][1] != 0]
        if not sp:
            return j
        jj = np.array(sp)[rng.integers(0, len(sp), n)]
        j = np.where(rng.random(n) < p_spatial, jj, j)
        # structured: the first preferred spatial slot that still has room, else a temporal slot
        temporal = [a for a in allowed if self.slots[a][1] == 0]
        jt = np.array(temporal)[rng.integers(0, len(temporal), n)] if temporal else j
        js = jt.copy()
        for a in reversed(sp):
            sl, kd = self.slots[a]
            room = (xprod[rows, sl] * p <= self.fx[sl]) if kd == 1 else (yprod[rows, sl] * p <= self.fy[sl])
            js = np.where(pref[:, a, d] & room, a, js)
        return np.where(structured, js, j)

    @functools.cached_property
    def temporal_ok(self) -> np.ndarray:
        """[D, L]: whether each dimension may take a temporal factor at each level."""
        temporal_slot = {sl[0]: j for j, sl in enumerate(self.slots) if sl[1] == 0}
        return np.array([[temporal_slot[x] in self.allowed[d] for x in range(self.L)] for d in range(self.D)])

    def _redirect(self, d: int, p: int, lvl, kind, tf, sf, keep, xprod, yprod):
        """Move a prime whose slot would overflow: a full fanout sends it to the level's temporal slot, a
        constrained temporal slot (e.g. D=1 at a spatial-only level) or a full buffer further up."""
        rows = np.arange(len(lvl))
        ok_slot = self.temporal_ok[d]
        over_x = (kind == 1) & (xprod[rows, lvl] * p > self.fx[lvl])
        over_y = (kind == 2) & (yprod[rows, lvl] * p > self.fy[lvl])
        kind = np.where(over_x | over_y, 0, kind)
        bad = (kind == 0) & ~ok_slot[lvl]
        for _ in range(self.L):
            if not bad.any():
                break
            lvl = np.where(bad, np.minimum(lvl + 1, self.L - 1), lvl)
            bad = bad & (lvl < self.L - 1) & ~ok_slot[lvl]
        if d in self.all_rest or not np.isfinite(self.cap)[:-1].any():
            return lvl, kind
        act = np.nonzero(lvl < self.L - 1)[0]
        top = int(np.nonzero(np.isfinite(self.cap))[0].max()) + 1      # levels above hold anything
        for _ in range(self.L):
            if not len(act):
                break
            f = (tf[act, :top] * sf[act, :top])
            grow = lvl[act] < top
            f[np.nonzero(grow)[0], lvl[act][grow], d] *= p
            over = (self._used(f, keep[act, :top]) > self.cap[None, :top]) & \
                (np.arange(top)[None, :] >= lvl[act][:, None])
            nl = np.minimum(lvl[act] + 1, self.L - 1)
            move = over.any(axis=1) & (lvl[act] < self.L - 1) & ok_slot[nl]
            if not move.any():
                break
            mv = act[move]
            lvl[mv] = nl[move]
            kind[mv] = 0
            act = mv[lvl[mv] < self.L - 1]
        return lvl, kind

    def _perms(self, rng: np.random.Generator, n: int) -> np.ndarray:
        keys = rng.random((n, self.L, self.D))
        for s, fixed in self.perm_fix.items():
            for i, d in enumerate(fixed):
                keys[:, s, d] = -len(fixed) + i
        return np.argsort(keys, axis=2)

    def _keeps(self, rng: np.random.Generator, n: int) -> np.ndarray:
        keep = np.ones((n, self.L, self.S), dtype=bool)
        if self.explore_bypass:
            free = self.keep_fixed == 0
            flip = rng.random((n, self.L, self.S)) < rng.random((n, 1, 1)) * 0.5
            keep = np.where(free[None] & flip, False, keep)
        keep = np.where(self.keep_fixed[None] == 1, True, keep)
        keep = np.where(self.keep_fixed[None] == -1, False, keep)
        # every data space kept somewhere
        none = ~keep.any(axis=1)                                   # [n, S]
        keep[:, self.L - 1, :] |= none
        return keep

    def feasible(self, c: Candidates) -> np.ndarray:
        """Constraint bounds and utilisation limits (exact factors are built in)."""
        ok = np.ones(c.n, dtype=bool)
        for s, k01, d, op, v in self.bounds:
            x = (c.tf if k01 == 0 else c.sf)[:, s, d]
            ok &= (x <= v) if op == "<=" else (x >= v)
        fan = np.prod(c.sf, axis=2) / (self.fx * self.fy)[None, :]
        ok &= np.all((fan >= self.util_min[None, :] - 1e-12) & (fan <= self.util_max[None, :] + 1e-12), axis=1)
        return ok

    # -----------------------------------------------------------------------------------------------------
    def mutate(self, rng: np.random.Generator, parents: Candidates, n: int) -> Candidates:
        """``n`` random one-step variations of ``parents`` (see ``moves.mutate``)."""
        return self.canonical(moves.mutate(self, rng, parents, n))

    def neighbours(self, c: Candidates, i: int) -> Candidates:
        """Every candidate one step from candidate ``i`` (see ``moves.neighbours``)."""
        return self.canonical(moves.neighbours(self, c, i))

    # -----------------------------------------------------------------------------------------------------
    def to_mapping(self, c: Candidates, i: int) -> ir.Mapping:
        levels = []
        for s in range(self.L - 1, -1, -1):
            lv = self.levels[s]
            tfac = {self.dims[d]: int(c.tf[i, s, d]) for d in range(self.D)}
            perm = [self.dims[int(d)] for d in c.tperm[i, s]]
            lm = ir.LevelMapping(target=lv.name, temporal_factors=tfac, temporal_permutation=perm_str(perm, self.dims))
            if (c.sf[i, s] > 1).any():
                xs = [d for d in range(self.D) if c.sf[i, s, d] > 1 and c.sx_dim[i, s, d]]
                ys = [d for d in range(self.D) if c.sf[i, s, d] > 1 and not c.sx_dim[i, s, d]]
                rest = [d for d in range(self.D) if c.sf[i, s, d] == 1]
                lc = self.constraints.levels.get(lv.name)
                cperm = [self.dims.index(x) for x in (lc.spatial_permutation if lc is not None else [])]
                rank = {d: (cperm.index(d) if d in cperm else len(cperm) + d) for d in range(self.D)}
                xs, ys = sorted(xs, key=rank.get), sorted(ys, key=rank.get)
                order = xs + ys + rest
                lm.spatial_factors = {self.dims[d]: int(c.sf[i, s, d]) for d in range(self.D)}
                lm.spatial_permutation = perm_str([self.dims[d] for d in order], self.dims)
                if ys:
                    lm.spatial_split = len(xs)
            byp = [self.ds[k] for k in range(self.S) if not c.keep[i, s, k]]
            if byp:
                lm.bypass = byp
                lm.keep = [self.ds[k] for k in range(self.S) if c.keep[i, s, k]] or None
            levels.append(lm)
        return ir.Mapping(levels=levels)

    def from_mapping(self, m: ir.Mapping) -> Candidates:
        """Candidate arrays for an existing mapping (e.g. to seed the search)."""
        b = batch_from_mappings(self.problem, self.arch, [m])
        sxd = np.ones_like(b.sf, dtype=bool)
        by = {lm.target: lm for lm in m.levels}
        for s, lv in enumerate(self.levels):
            lm = by.get(lv.name)
            if lm is None or not lm.spatial_factors:
                continue
            split = lm.spatial_split if lm.spatial_split is not None else self.D
            for j, dname in enumerate(perm_list(lm.spatial_permutation, self.dims)):
                sxd[0, s, self.dims.index(dname)] = j < split
        return Candidates(b.tf, b.sf, sxd, b.tperm, b.keep)
