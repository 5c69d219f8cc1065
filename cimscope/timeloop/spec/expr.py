"""Expressions in timeloopfe v0.4 specs (``meshX: X``, ``width: datawidth * 3``, ``depth: 2 ** 10``), evaluated
the way Accelergy's ``parse_expression_for_arithmetic`` does, without Python's ``eval``.

Rules (Accelergy ``parsing_utils``): a quoted string stays a string; ``true``/``false`` become booleans; a value
that reads as a number becomes a number (an int when integral); anything else is a Python expression over the
names in scope (variables, container attributes, earlier keys of the same mapping) and these functions: the
``math`` module's (ceil, floor, log2, sqrt, ...), constants (pi, e, inf), and abs, round, pow, sum, len, min, max,
float, int, str, bool, list, tuple, range. A name in scope shadows a function of the same name.

The expression is parsed with :mod:`ast` and walked node by node: only literals, names, arithmetic, comparisons,
boolean logic, ``x if c else y``, subscripts, attribute reads of spec mappings and calls of the functions above
are allowed; anything else (lambda, comprehension, dunder attribute, a call of a non-whitelisted object) is refused
by name. Powers and ranges are bounded so that no expression can exhaust the machine.
"""
from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable, Mapping

from cimscope.errors import InputError
from cimscope.timeloop.spec.yamlload import Quoted

_MATH_NAMES = ("ceil comb copysign fabs factorial floor fmod frexp fsum gcd isclose isfinite isinf isnan isqrt "
               "ldexp modf perm prod remainder trunc exp expm1 log log1p log2 log10 sqrt acos asin atan atan2 cos "
               "dist hypot sin tan degrees radians acosh asinh atanh cosh sinh tanh erf erfc gamma lgamma").split()
_MAX_RANGE = 1_000_000


class ExprError(InputError):
    """An expression that cannot be evaluated (unknown name, refused construct, arithmetic error)."""


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > _MAX_RANGE:
        raise ExprError(f"range{args} has {len(r)} elements; at most {_MAX_RANGE} are allowed in an expression")
    return r


FUNCTIONS: dict[str, Any] = {name: getattr(math, name) for name in _MATH_NAMES}
FUNCTIONS.update(pi=math.pi, e=math.e, tau=math.tau, inf=math.inf, nan=math.nan, abs=abs, round=round, pow=pow,
                 sum=sum, len=len, min=min, max=max, float=float, int=int, str=str, bool=bool, list=list,
                 tuple=tuple, range=_range, enumerate=enumerate)
_CALLABLE_IDS = {id(f) for f in FUNCTIONS.values() if callable(f)}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift}
_UNOPS = {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Not: operator.not_, ast.Invert: operator.invert}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not}


def _pow(a: Any, b: Any) -> Any:
    if isinstance(b, (int, float)) and abs(b) > 4096 and isinstance(a, (int, float)) and abs(a) > 1:
        raise ExprError(f"{a} ** {b} is too large to evaluate")
    return operator.pow(a, b)


class _Evaluator:
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names

    def run(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExprError(f"{type(node).__name__} is not allowed in an expression")
        return method(node)

    def _Expression(self, n: ast.Expression) -> Any:
        return self.run(n.body)

    def _Constant(self, n: ast.Constant) -> Any:
        return n.value

    def _Name(self, n: ast.Name) -> Any:
        if n.id in self.names:
            return self.names[n.id]
        if n.id in FUNCTIONS:
            return FUNCTIONS[n.id]
        if n.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[n.id]
        raise ExprError(f"name {n.id!r} is not defined")

    def _BinOp(self, n: ast.BinOp) -> Any:
        op = _BINOPS.get(type(n.op))
        if op is None:
            raise ExprError(f"operator {type(n.op).__name__} is not allowed")
        a, b = self.run(n.left), self.run(n.right)
        return _pow(a, b) if isinstance(n.op, ast.Pow) else op(a, b)

    def _UnaryOp(self, n: ast.UnaryOp) -> Any:
        return _UNOPS[type(n.op)](self.run(n.operand))

    def _BoolOp(self, n: ast.BoolOp) -> Any:
        value: Any = None
        for v in n.values:
            value = self.run(v)
            if isinstance(n.op, ast.And) and not value:
                return value
            if isinstance(n.op, ast.Or) and value:
                return value
        return value

    def _Compare(self, n: ast.Compare) -> Any:
        left = self.run(n.left)
        for op, comp in zip(n.ops, n.comparators):
            right = self.run(comp)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, n: ast.IfExp) -> Any:
        return self.run(n.body) if self.run(n.test) else self.run(n.orelse)

    def _List(self, n: ast.List) -> Any:
        return [self.run(e) for e in n.elts]

    def _Tuple(self, n: ast.Tuple) -> Any:
        return tuple(self.run(e) for e in n.elts)

    def _Subscript(self, n: ast.Subscript) -> Any:
        return self.run(n.value)[self.run(n.slice)]

    def _Slice(self, n: ast.Slice) -> Any:
        return slice(*(None if x is None else self.run(x) for x in (n.lower, n.upper, n.step)))

    def _Attribute(self, n: ast.Attribute) -> Any:
        if n.attr.startswith("_"):
            raise ExprError(f"attribute {n.attr!r} is not allowed")
        base = self.run(n.value)
        if isinstance(base, Mapping) and n.attr in base:
            return base[n.attr]
        raise ExprError(f"{n.attr!r} is not a key of {_short(base)}")

    def _Call(self, n: ast.Call) -> Any:
        func = self.run(n.func)
        if id(func) not in _CALLABLE_IDS:
            raise ExprError(f"{ast.unparse(n.func)} is not a function that expressions may call")
        args = [self.run(a) for a in n.args]
        kwargs = {k.arg: self.run(k.value) for k in n.keywords if k.arg is not None}
        return func(*args, **kwargs)


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) < 60 else s[:57] + "..."


def cast_literal(value: str) -> Any:
    """``"true"``/``"false"`` -> bool, a number -> int or float, else the string itself."""
    low = value.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        f = float(value)
    except ValueError:
        return value
    if math.isfinite(f) and f == int(f) and not any(c in low for c in ".e") or low.lstrip("+-").isdigit():
        return int(f) if abs(f) < 2 ** 53 else int(value)
    return f


def evaluate(value: Any, names: Mapping[str, Any], where: str) -> Any:
    """Evaluate one spec value: quoted strings and non-strings are returned as they are."""
    if not isinstance(value, str) or isinstance(value, Quoted):
        return value
    lit = cast_literal(value)
    if not isinstance(lit, str):
        return lit
    text = value.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ExprError(f"{where}: cannot read {value!r} as an expression; quote it to make it a string") from None
    try:
        result = _Evaluator(names).run(tree)
    except ExprError as exc:
        raise ExprError(f"{where}: cannot evaluate {value!r}: {exc}; quote it to make it a string") from None
    except (ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise ExprError(f"{where}: cannot evaluate {value!r}: {type(exc).__name__}: {exc}") from None
    return Quoted(result) if isinstance(result, str) else result
