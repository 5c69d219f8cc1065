"""Malformed inputs for every `cimscope` command, and a harness that runs one in-process and classifies it.

Used by tests/test_fuzz_cli.py (a bounded hypothesis run in CI) and benchmarks/fuzz_cli.py (a long run that
prints the tally). A run ends in one of:

* ``clean2``: exit 2, no traceback, and one error line on stderr: ``cimscope: error: ...`` or, for a
  malformed option that click itself rejects, its usage block whose only error line is ``Error: ...``;
* ``ok``: exit 0 and, with ``--json``, one JSON document on stdout with no NaN/Infinity;
* ``traceback``: an exception escaped ``cimscope.cli.main`` (or stderr shows a traceback);
* ``accepted``: exit 0 although the input was invalid by construction (a silently wrong number);
* ``late``: an invalid option reached the model build (torch) before being refused: the build is stubbed
  out so the fuzz never runs a model, and reaching it with an invalid input is the finding;
* ``messy``: any other exit (exit 2 with several lines, another status, bad JSON on stdout).

Every case is built from a valid base input with exactly one part made invalid (``invalid=True``) or from
in-range values (``invalid=False``), so the expected outcome is known without running anything.
"""
from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml
from hypothesis import strategies as st

from refpaths import REFERENCE

KP = REFERENCE / "timeloop_cases" / "04-conv1d+oc-3levelspatial-kp"
COMMANDS = ("export", "estimate", "model", "mapper", "evaluate", "compare", "bitfluid", "profile")
GOOD = ("clean2", "ok")


@dataclass(frozen=True)
class Case:
    """One command line; ``files`` are written to a fresh folder first and ``{name}`` in argv is replaced by
    the file's path. ``invalid``: one part of the input is invalid by construction (expected: clean2)."""

    cmd: str
    argv: tuple[str, ...]
    invalid: bool
    what: str
    files: tuple[tuple[str, bytes], ...] = ()
    json_out: bool = True

    def materialise(self, folder: Path) -> list[str]:
        paths = {}
        for name, data in self.files:
            p = folder / name
            p.write_bytes(data)
            paths[name] = str(p)
        out = [self.cmd]
        for a in self.argv:
            for name, p in paths.items():
                a = a.replace("{" + name + "}", p)
            out.append(a.replace("{dir}", str(folder)))
        return out + (["--json"] if self.json_out else [])


@dataclass
class Outcome:
    kind: str
    rc: Optional[int]
    out: str
    err: str
    detail: str = ""

    def summary(self) -> str:
        last = (self.err.strip().splitlines() or [""])[-1][:200]
        return f"{self.kind} rc={self.rc} {self.detail or last}"


class ExportReached(Exception):
    """Raised by the stubbed model export/build: the command got to torch."""


@contextlib.contextmanager
def no_exports():
    """Replace the model build (the first step of an export that runs torch) by a stub raising
    ExportReached; what export_model checks before building still runs."""
    import cimscope.workloads as wl

    def stub(*_a: Any, **_k: Any) -> Any:
        raise ExportReached("model export reached")

    # every way export_model reaches torch: the model build, and the symbolic capture of text models
    targets = [(wl, "build_model"), (wl, "build"), (wl.symbolic, "capture_text")]
    saved = [(obj, k, getattr(obj, k)) for obj, k in targets]
    for obj, k, _ in saved:
        setattr(obj, k, stub)
    try:
        yield
    finally:
        for obj, k, v in saved:
            setattr(obj, k, v)


def _strict_json(text: str) -> Any:
    def bad(c: str) -> Any:
        raise ValueError(f"non-finite number {c} in JSON")
    return json.loads(text, parse_constant=bad)


def _one_error_line(err: str) -> bool:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if "Traceback" in err:
        return False
    if len(lines) == 1 and lines[0].startswith("cimscope: error: "):
        return True
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    return bool(lines) and lines[0].startswith("Usage: ") and len(errors) == 1 and lines[-1] == errors[0]


def run_case(case: Case, folder: Path) -> Outcome:
    """Run ``case`` through ``cimscope.cli.main`` in this process (exports stubbed) and classify it."""
    from cimscope.cli import main
    argv = case.materialise(folder)
    out, err = io.StringIO(), io.StringIO()
    rc: Optional[int] = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), no_exports():
        try:
            rc = main(argv)
        except ExportReached:
            return Outcome("late" if case.invalid else "ok", None, out.getvalue(), err.getvalue(),
                           "export reached")
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - every escape is the finding
            return Outcome("traceback", None, out.getvalue(), err.getvalue(),
                           f"{type(exc).__name__}: {str(exc)[:160]}")
    o, e = out.getvalue(), err.getvalue()
    if "Traceback (most recent call last)" in e:
        return Outcome("traceback", rc, o, e, "traceback on stderr")
    if rc == 2:
        return Outcome("clean2" if _one_error_line(e) and not o.strip() else "messy", rc, o, e)
    if rc == 0:
        if case.invalid:
            return Outcome("accepted", rc, o, e, "exit 0 on an invalid input")
        if case.json_out:
            try:
                _strict_json(o)
            except ValueError as exc:
                return Outcome("messy", rc, o, e, f"stdout is not one finite JSON document ({exc})")
        return Outcome("ok", rc, o, e)
    return Outcome("messy", rc, o, e)


# ---------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------

NON_UTF8 = b"name: caf\xe9 \xff\xfe\n"
BAD_NUMBERS = ["nan", "inf", "-inf", "-1", "1e400", "abc", "", "8.5", "0x10"]
HUGE_INTS = ["99999999", str(2 ** 70), "-1", "0"]
YAML_BAD_NUMBERS = [".nan", ".inf", "-.inf", "-1", "abc", "true", "[1, 2]", "{a: 1}"]
MALFORMED_YAML = [b"a: [1, 2\n", b"{{{", b"- a\nb: c\n", b"\t- x\n", b"key: 'unterminated\n", b""]


def _yaml_value(text: str) -> Any:
    return yaml.safe_load(text)


def _dump(doc: Any) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


# ---------------------------------------------------------------------------------------------------------
# Per-command strategies
# ---------------------------------------------------------------------------------------------------------

def _estimate_models() -> list:
    from cimscope.plugins import load_all
    from cimscope.plugins.base import REGISTRY
    load_all()
    return sorted({m.component_name: m for m in REGISTRY.values()}.values(), key=lambda m: m.component_name)


def _invalid_texts(spec) -> list[str]:
    """Values that break the attribute's declaration, as `--attr name=VALUE` text."""
    if spec.choices is not None:
        return ["no-such", "1", "true", ".nan"]
    out = [".nan", "nan", ".inf", "inf", "-.inf", "true", "abc", "[1]", "{a: 1}"]
    if spec.kind is int:
        out.append(f"{(spec.low or 0) + 0.5}")
    if spec.low is not None:
        out.append(f"{spec.low - 1:g}")
    if spec.high is not None:
        out.append(f"{spec.high * 2 + 1:g}")
    return out


@st.composite
def estimate_cases(draw) -> Case:
    models = _estimate_models()
    m = draw(st.sampled_from(models))
    req = [f"{n}={s.choices[0]}" for n, s in m.attributes.items() if s.required and s.choices]
    name, spec = draw(st.sampled_from(sorted(m.attributes.items())))
    if draw(st.booleans()):                          # an in-range value
        if spec.choices:
            v = str(draw(st.sampled_from(spec.choices)))
        elif spec.kind is int:
            v = str(draw(st.integers(int(spec.low or 0), int(min(spec.high or 4096, 4096)))))
        else:
            v = repr(draw(st.floats(spec.low or 0.0, spec.high or 1e3, allow_nan=False, allow_infinity=False)))
        attrs = [a for a in req if not a.startswith(name + "=")] + [f"{name}={v}"]
        return Case("estimate", (m.component_name, *[x for a in attrs for x in ("--attr", a)]), False,
                    f"estimate {m.component_name} {name}={v}")
    bad = draw(st.sampled_from(_invalid_texts(spec)))
    attrs = [a for a in req if not a.startswith(name + "=")] + [f"{name}={bad}"]
    if draw(st.integers(0, 9)) == 0:
        attrs.append(draw(st.sampled_from(["colour=red", "=5", "rows", "rows=1=2"])))
    return Case("estimate", (m.component_name, *[x for a in attrs for x in ("--attr", a)]), True,
                f"estimate {m.component_name} {' '.join(attrs)}")


def _kp_input() -> dict:
    return yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())


def _kp_ert() -> dict:
    return yaml.safe_load((KP / "timeloop-model.ERT.yaml").read_text())


#: Fields of the Timeloop input whose every listed bad value is invalid (sizes, widths, dimensions).
ARCH_FIELDS = ("depth", "width", "datawidth", "n_banks", "meshX", "meshY")


def _arch_levels(doc: dict) -> list[dict]:
    return doc["architecture"]["subtree"][0]["local"]


@st.composite
def timeloop_mutation(draw, *, with_mapping: bool = True) -> tuple[str, dict, dict, bool]:
    """(description, input document, ERT document, invalid) with one field of the KP case changed."""
    doc, ert = _kp_input(), _kp_ert()
    if not with_mapping:
        del doc["mapping"]
    where = draw(st.sampled_from(["arch", "problem", "ert"]))
    value_text = draw(st.sampled_from(YAML_BAD_NUMBERS))
    value = _yaml_value(value_text)
    if where == "arch":
        levels = [lv for lv in _arch_levels(doc) if lv.get("class") != "dummy_storage"]
        lv = draw(st.sampled_from(levels))
        fld = draw(st.sampled_from([f for f in ARCH_FIELDS if f in lv["attributes"]]))
        lv["attributes"][fld] = value
        what = f"{lv['name']}.{fld}: {value_text}"
    elif where == "problem":
        inst = doc["problem"]["instance"]
        dim = draw(st.sampled_from(sorted(k for k, v in inst.items() if isinstance(v, int))))
        inst[dim] = value
        what = f"problem.instance.{dim}: {value_text}"
    else:
        table = draw(st.sampled_from(ert["ERT"]["tables"]))
        act = draw(st.sampled_from(table["actions"]))
        act["energy"] = value
        what = f"ERT {table['name']}.{act['name']}.energy: {value_text}"
    return what, doc, ert, True


@st.composite
def model_cases(draw) -> Case:
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "valid", "non_utf8", "malformed", "missing",
                                 "folder"]))
    ert = (KP / "timeloop-model.ERT.yaml").read_bytes()
    base = (KP / "parsed-processed-input.yaml").read_bytes()
    if kind == "valid":                              # in-range changes: exit 0, finite JSON
        doc, ertd = _kp_input(), _kp_ert()
        table = draw(st.sampled_from(ertd["ERT"]["tables"]))
        act = draw(st.sampled_from(table["actions"]))
        act["energy"] = draw(st.floats(0, 1e3, allow_nan=False, allow_infinity=False))
        what = f"model valid ERT {table['name']}.{act['name']}.energy: {act['energy']!r}"
        return Case("model", ("{in.yaml}", "--ert", "{ert.yaml}"), False, what,
                    (("in.yaml", _dump(doc)), ("ert.yaml", _dump(ertd))))
    if kind == "mutate":
        what, doc, ertd, invalid = draw(timeloop_mutation())
        return Case("model", ("{in.yaml}", "--ert", "{ert.yaml}"), invalid, f"model {what}",
                    (("in.yaml", _dump(doc)), ("ert.yaml", _dump(ertd))))
    target = draw(st.sampled_from(["in.yaml", "ert.yaml"]))
    files = {"in.yaml": base, "ert.yaml": ert}
    if kind == "non_utf8":
        files[target] = files[target].replace(b"version", b"v\xe9rsion", 1)
    elif kind == "malformed":
        files[target] = draw(st.sampled_from(MALFORMED_YAML))
    elif kind == "missing":
        return Case("model", ("{dir}/nope.yaml", "--ert", "{ert.yaml}"), True, "model missing input",
                    (("ert.yaml", ert),))
    else:
        return Case("model", ("{dir}", "--ert", "{ert.yaml}"), True, "model folder as input", (("ert.yaml", ert),))
    return Case("model", ("{in.yaml}", "--ert", "{ert.yaml}"), True, f"model {kind} {target}",
                tuple(files.items()))


@st.composite
def mapper_cases(draw) -> Case:
    doc = _kp_input()
    del doc["mapping"]
    ert = (KP / "timeloop-model.ERT.yaml").read_bytes()
    files = (("in.yaml", _dump(doc)), ("ert.yaml", ert))
    opt = draw(st.sampled_from(["--seed", "--budget-s", "--max-evaluations", "--objective", "--engine", "file"]))
    if opt == "--seed":
        v = draw(st.sampled_from(["-1", "abc", "1.5"]))
    elif opt == "--budget-s":
        v = draw(st.sampled_from(["nan", "-1", "0", "abc"]))
    elif opt == "--max-evaluations":
        v = draw(st.sampled_from(["-1", "0", "abc"]))
    elif opt == "--objective":
        v = draw(st.sampled_from(["speed", "", "EDP "]))
    elif opt == "--engine":
        v = draw(st.sampled_from(["bogus", ""]))
    else:
        what, d, ertd, _ = draw(timeloop_mutation(with_mapping=False))
        return Case("mapper", ("{in.yaml}", "--ert", "{ert.yaml}", "--max-evaluations", "20", "--no-cache"), True,
                    f"mapper {what}", (("in.yaml", _dump(d)), ("ert.yaml", _dump(ertd))))
    return Case("mapper", ("{in.yaml}", "--ert", "{ert.yaml}", "--max-evaluations", "20", "--no-cache", opt, v),
                True, f"mapper {opt} {v}", files)


_BITFLUID_CONFIGS = [
    "layers:\n  conv1: {w_bits: .nan, a_bits: 8}\n", "configs:\n  a: {default: 8, top1: abc}\n",
    "configs:\n  a: {default: 8, top1: 150}\n", "configs: {}\n", "configs:\n  a: {default: 0}\n",
    "configs:\n  a: {default: 8, speedup: -2}\n", "configs:\n  a: {default: 8, first_last_8bit: 'no'}\n",
    "layers: [s1u1c1]\nconfigs:\n  a: {bits: [.inf]}\n", "configs:\n  a: {layers: {conv1: {w_bits: 4}}}\n",
    "dynamic: [x]\nconfigs:\n  a: {default: 8}\n", "configs:\n  a: {default: 8, size_MB: .nan}\n",
]


@st.composite
def bitfluid_cases(draw) -> Case:
    base = ["--model", "resnet18", "--configs", "int8"]
    kind = draw(st.sampled_from(["option", "option", "config", "config", "non_utf8", "malformed", "arch"]))
    if kind == "option":
        opt, vals = draw(st.sampled_from([("--batch", HUGE_INTS), ("--image-size", HUGE_INTS + ["7"]),
                                          ("--vdd", BAD_NUMBERS), ("--node", ["nan", "inf", "-1", "0"]),
                                          ("--tech", ["flash", ",", ""]), ("--configs", ["int0", "int99", "x"]),
                                          ("--sequence", ["nosuch", "", ","]),
                                          ("--model", ["resnet99", ",", ""])]))
        v = draw(st.sampled_from(vals))
        argv = [a for a in base]
        if opt in argv:
            argv[argv.index(opt) + 1] = v
        else:
            argv += [opt, v]
        return Case("bitfluid", tuple(argv), True, f"bitfluid {opt} {v!r}")
    if kind == "config":
        text = draw(st.sampled_from(_BITFLUID_CONFIGS)).encode()
    elif kind == "non_utf8":
        text = b"configs:\n  caf\xe9: {default: 8}\n"
    elif kind == "malformed":
        text = draw(st.sampled_from(MALFORMED_YAML))
    else:
        return Case("bitfluid", ("--model", "resnet18", "--configs", "int8", "--arch", "{a.yaml}"), True,
                    "bitfluid --arch non-UTF-8/malformed",
                    (("a.yaml", draw(st.sampled_from([NON_UTF8] + MALFORMED_YAML[:3]))),))
    return Case("bitfluid", ("--model", "resnet18", "--configs", "{c.yaml}"), True,
                f"bitfluid config {text[:40]!r}", (("c.yaml", text),))


def _option_case(cmd: str, base: list[str], options: list[tuple[str, list[str]]], draw) -> Case:
    opt, vals = draw(st.sampled_from(options))
    v = draw(st.sampled_from(vals))
    argv = list(base)
    if opt in argv:
        argv[argv.index(opt) + 1] = v
    else:
        argv += [opt, v]
    return Case(cmd, tuple(argv), True, f"{cmd} {opt} {v!r}")


@st.composite
def export_cases(draw) -> Case:
    return _option_case("export", ["resnet18", "--out", "{dir}/exp"], [
        ("--batch", HUGE_INTS), ("--image-size", HUGE_INTS), ("--seq", HUGE_INTS),
        ("--weight-bits", ["0", "65", "-1", "99999999"]), ("--act-bits", ["0", "65", "-8"]),
        ("--capture", ["bogus", ""])], draw)


_EVAL_OPTIONS = [("--batch", HUGE_INTS), ("--image-size", HUGE_INTS), ("--seq", HUGE_INTS),
                 ("--arch", ["bogus", ""]), ("--placement", ["bogus", ""]), ("--primitive", ["analog7T", ""]),
                 ("--engine", ["bogus"]), ("--rounding", ["bogus"])]


@st.composite
def evaluate_cases(draw) -> Case:
    return _option_case("evaluate", ["--model", "resnet18", "--placement", "rf", "--cache-dir", "{dir}/c"],
                        _EVAL_OPTIONS + [("--top", ["-1", "0"]), ("--model", ["resnet99"])], draw)


@st.composite
def compare_cases(draw) -> Case:
    return _option_case("compare", ["--model", "resnet18", "--cache-dir", "{dir}/c", "--no-plots"],
                        _EVAL_OPTIONS[:3] + [("--placements", ["bogus", ",", "rf,bogus"]),
                                             ("--primitives", ["analog7T", ","]), ("--workers", ["-1", "0"]),
                                             ("--model", ["resnet99", ",", "resnet18,resnet99"])], draw)


@st.composite
def profile_cases(draw) -> Case:
    return _option_case("profile", ["resnet18", "--no-model"], [
        ("--device", ["tpu", ""]), ("--batch", HUGE_INTS), ("--dtype", ["fp64", ""]), ("--runs", ["0", "-1"]),
        ("--warmup", ["-1"]), ("--threads", ["0", "-1", "99999999"]), ("--image-size", HUGE_INTS),
        ("--seq-len", HUGE_INTS)], draw)


STRATEGIES = {"export": export_cases, "estimate": estimate_cases, "model": model_cases, "mapper": mapper_cases,
              "evaluate": evaluate_cases, "compare": compare_cases, "bitfluid": bitfluid_cases,
              "profile": profile_cases}


def tally(outcomes: list[Outcome]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in outcomes:
        out[o.kind] = out.get(o.kind, 0) + 1
    return out



# ---------------------------------------------------------------------------------------------------------
# Findings in areas other than plug-ins/estimate/bitfluid (not fixed here; reported to their owners)
# ---------------------------------------------------------------------------------------------------------

_NONFINITE = r"-?\.(nan|inf)"
_SIZE = r"(instance\.\w+|\.(depth|width|datawidth|n_banks|meshX|meshY))"
_ERT_BAD = r"ERT .*\.energy: (-?\.(nan|inf)|-1|true)$"


@dataclass(frozen=True)
class Finding:
    """A class of fuzz cases that fail today, in an area owned by another helper, with a minimal reproducer."""

    key: str
    owner: str
    reason: str
    commands: tuple[str, ...]
    pattern: str                                    # regular expression on Case.what
    reproducer: Case
    expect: str                                     # the outcome kind the reproducer gives today

    def matches(self, case: Case) -> bool:
        import re
        return case.cmd in self.commands and re.search(self.pattern, case.what) is not None


def _kp_files(mutate=None, ert_mutate=None, with_mapping=True) -> tuple[tuple[str, bytes], ...]:
    doc, ert = _kp_input(), _kp_ert()
    if not with_mapping:
        del doc["mapping"]
    if mutate:
        mutate(doc)
    if ert_mutate:
        ert_mutate(ert)
    return (("in.yaml", _dump(doc)), ("ert.yaml", _dump(ert)))


def _set_dim(doc: dict) -> None:
    doc["problem"]["instance"]["K"] = float("nan")


def _set_energy(ert: dict) -> None:
    ert["ERT"]["tables"][0]["actions"][1]["energy"] = -1.0


def _set_banks(doc: dict) -> None:
    _arch_levels(doc)[1]["attributes"]["n_banks"] = -1


_IN = ("{in.yaml}", "--ert", "{ert.yaml}")
_MAP = _IN + ("--max-evaluations", "20", "--no-cache")

FINDINGS: tuple[Finding, ...] = ()

#: Findings fixed since they were filed (profile options; the Timeloop loader and the mapper's options, issue 14):
#: no longer excluded from the property runs, and each reproducer (``expect``: the outcome it gives now) runs as a
#: plain test in tests/test_fuzz_cli.py.
FIXED: tuple[Finding, ...] = (
    Finding("export-sizes-late", "workloads (export)", "export --batch/--image-size/--seq out of range were not "
            "checked before the model build (export_model checked bits and capture only)", ("export",),
            r"--(batch|image-size|seq) ", Case("export", ("resnet18", "--batch", "99999999", "--out", "{dir}/e"),
                                                True, "export --batch 99999999"), "clean2"),
    Finding("profile-sizes-late", "gpu (profile)", "profile --batch/--image-size/--seq-len/--threads out of "
            "range were not checked before the model build", ("profile",),
            r"--(batch|image-size|seq-len|threads) ",
            Case("profile", ("resnet18", "--no-model", "--batch", "99999999"), True, "profile --batch 99999999"),
            "clean2"),
    Finding("timeloop-non-utf8", "tlmodel (Timeloop loader)", "a non-UTF-8 Timeloop input or ERT raises "
            "UnicodeDecodeError (traceback)", ("model", "mapper"), r"non_utf8",
            Case("model", _IN, True, "model non_utf8 in.yaml",
                 (("in.yaml", (KP / "parsed-processed-input.yaml").read_bytes().replace(b"version", b"v\xe9rsion", 1)),
                  ("ert.yaml", (KP / "timeloop-model.ERT.yaml").read_bytes()))), "clean2"),
    Finding("timeloop-nonfinite-size", "tlmodel (Timeloop loader)", "NaN/inf in a problem dimension or an "
            "architecture size (width, depth, datawidth, meshX/Y, n_banks) raises ValueError/OverflowError "
            "(traceback)", ("model", "mapper"), _SIZE + ": " + _NONFINITE,
            Case("model", _IN, True, "model problem.instance.K: .nan", _kp_files(_set_dim)), "clean2"),
    Finding("ert-invalid-energy", "tlmodel (ERT loader)", "a negative, NaN, inf or boolean ERT energy is "
            "accepted and used (exit 0 with a wrong energy; the mapper optimises on it)", ("model", "mapper"),
            _ERT_BAD, Case("model", _IN, True, "model ERT MainMemory.read.energy: -1",
                           _kp_files(ert_mutate=_set_energy)),
            "clean2"),
    Finding("arch-negative-ignored", "tlmodel (Timeloop loader)", "n_banks: -1 on a storage level and width: -1 "
            "on the compute level are accepted (exit 0)", ("model", "mapper"), r"(\.n_banks|MACC\S*\.width): -1$",
            Case("model", _IN, True, "model GlobalBuffer.n_banks: -1", _kp_files(_set_banks)), "clean2"),
    Finding("mapper-seed-negative", "tlmodel (cli/mapper.py, mappers/)", "mapper --seed -1 raises "
            "ValueError from numpy (traceback)", ("mapper",), r"--seed -1$",
            Case("mapper", _MAP + ("--seed", "-1"), True, "mapper --seed -1",
                 _kp_files(with_mapping=False)), "clean2"),
    Finding("mapper-budget-nan", "tlmodel (cli/mapper.py, mappers/)", "mapper --budget-s nan is accepted "
            "(exit 0)", ("mapper",), r"--budget-s nan$",
            Case("mapper", _MAP + ("--budget-s", "nan"), True, "mapper --budget-s nan",
                 _kp_files(with_mapping=False)), "clean2"),
    Finding("evaluate-sizes-late", "core (evaluate/compare options)", "--batch/--image-size/--seq out of "
            "range (0, -1, 99999999, 2**70) were not checked before the model build",
            ("evaluate", "compare"), r"--(batch|image-size|seq) ",
            Case("evaluate", ("--model", "resnet18", "--batch", "99999999", "--cache-dir", "{dir}/c"), True,
                 "evaluate --batch 99999999"), "clean2"),
    Finding("evaluate-options-late", "core (evaluate/compare options)", "--rounding bogus (placement rf) and "
            "--top 0/-1 were checked only after the model build (or never)", ("evaluate",),
            r"--(rounding|top) ", Case("evaluate", ("--model", "resnet18", "--placement", "rf", "--rounding",
                                                     "bogus", "--cache-dir", "{dir}/c"), True,
                                        "evaluate --rounding bogus"), "clean2"),
    Finding("evaluate-model-typo", "core (evaluate/compare options)", "an unknown --model was reported after an "
            "'exporting MODEL ...' line (two lines on stderr)", ("evaluate", "compare"), r"--model '?[^ ]*resnet99",
            Case("evaluate", ("--model", "resnet99", "--cache-dir", "{dir}/c"), True, "evaluate --model resnet99"),
            "clean2"),
)


def known_finding(case: Case) -> Optional[Finding]:
    return next((f for f in FINDINGS if f.matches(case)), None)
