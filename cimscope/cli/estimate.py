"""``cimscope estimate``: energy, latency and area per action of one plug-in component.

    cimscope estimate COMPONENT [--attr name=value ...] [--json]
    cimscope estimate --list [--json]
    cimscope estimate --accelergy-config [--json]

Human tables go to stderr; ``--json`` prints one JSON document on stdout and nothing else. The
``--accelergy-config`` lines are configuration text meant for redirection, so they go to stdout.
"""
from __future__ import annotations

import math
from typing import Any, List, Optional

import typer


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if math.isinf(x):
        return "unlimited"
    return f"{x:.4g}"


def list_components() -> list[dict[str, Any]]:
    """One entry per model: name, aliases, description, accuracy, attributes (default, doc, range/choices)."""
    from cimscope.plugins.accelergy_adapter import unique_models
    out = []
    for m in sorted(unique_models(), key=lambda c: c.component_name):
        attrs = {}
        for name, spec in m.attributes.items():
            d: dict[str, Any] = {"default": spec.default, "doc": spec.doc, "required": spec.required,
                                 "valid": spec.valid_text()}
            if spec.choices is not None:
                d["choices"] = list(spec.choices)
            else:
                d["range"] = [spec.low, spec.high]
            attrs[name] = d
        out.append({"component": m.component_name, "aliases": list(m.aliases), "description": m.description,
                    "percent_accuracy": m.percent_accuracy, "actions": list(m.action_names()),
                    "attributes": attrs})
    return out


def accelergy_config() -> dict[str, Any]:
    """The accelergy_config.yaml entries that load cimscope's Accelergy v0.4 plug-in."""
    import os

    import cimscope.plugins.accelergy_plugin as plugin_file
    path = os.path.abspath(plugin_file.__file__)
    return {"python_plug_ins": [path], "estimator_plug_ins_alternative": [os.path.dirname(path)]}


def register(app: typer.Typer) -> None:
    @app.command("estimate")
    def estimate_cmd(
        component: Optional[str] = typer.Argument(None, help="component name (see --list)"),
        attr: Optional[List[str]] = typer.Option(None, "--attr", "-a", help="attribute name=value (repeatable)"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout"),
        list_: bool = typer.Option(False, "--list", help="list components with their attributes and actions"),
        accelergy: bool = typer.Option(False, "--accelergy-config",
                                       help="print the accelergy_config.yaml lines that load the cimscope plug-in"),
    ) -> None:
        """Energy (pJ), latency (s) and area (um^2) per action of a plug-in component, with sources."""
        from cimscope.cli._common import parse_attrs, print_json
        from cimscope.errors import InputError

        if accelergy:
            cfg = accelergy_config()
            if json_out:
                print_json(cfg)
                return
            print("# Add to accelergy_config.yaml (./accelergy_config.yaml or ~/.config/accelergy/):")
            print("python_plug_ins:")
            for p in cfg["python_plug_ins"]:
                print(f"  - {p}")
            print("# or, instead, add this folder (it holds cimscope.estimator.yaml) to estimator_plug_ins:")
            for p in cfg["estimator_plug_ins_alternative"]:
                print(f"#   - {p}")
            return
        if list_:
            comps = list_components()
            if json_out:
                print_json(comps)
                return
            _print_list(comps)
            return
        if component is None:
            from cimscope.plugins.accelergy_adapter import unique_models
            raise InputError("give a COMPONENT (or --list); components: "
                             + ", ".join(sorted(m.component_name for m in unique_models())))
        from cimscope.plugins.base import get_estimator
        model = get_estimator(component)
        est = model(**parse_attrs(attr)).estimate()
        if json_out:
            d = est.to_dict()
            d["units"] = {"energy": "pJ", "latency": "s", "area": "um^2", "leakage": "W", "throughput": "1/s"}
            print_json(d)
            return
        _print_estimate(est)


def _print_list(comps: list[dict]) -> None:
    from cimscope.cli._common import stderr_console
    from rich.table import Table
    con = stderr_console()
    for c in comps:
        alias = f" (aliases: {', '.join(c['aliases'])})" if c["aliases"] else ""
        con.print(f"[bold]{c['component']}[/bold]{alias}: {c['description']} "
                  f"[{c['percent_accuracy']}% accuracy]")
        t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        t.add_column("attribute")
        t.add_column("default")
        t.add_column("valid")
        t.add_column("meaning")
        for name, a in c["attributes"].items():
            t.add_row(name, "REQUIRED" if a["required"] else str(a["default"]), a["valid"], a["doc"])
        con.print(t)
        con.print(f"  actions: {', '.join(c['actions'])}\n")


def _print_estimate(est) -> None:
    from cimscope.cli._common import stderr_console
    from rich.table import Table
    con = stderr_console()
    attrs = ", ".join(f"{k}={v}" for k, v in est.attributes.items())
    con.print(f"[bold]{est.component}[/bold]({attrs})")
    t = Table(show_header=True, header_style="bold")
    t.add_column("action")
    t.add_column("energy (pJ)", justify="right")
    t.add_column("latency (s)", justify="right")
    t.add_column("throughput (1/s)", justify="right")
    t.add_column("source", overflow="fold")
    for name, c in est.actions.items():
        t.add_row(name, _fmt(c.energy_pJ), _fmt(c.latency_s), _fmt(c.throughput), c.source)
    con.print(t)
    con.print(f"area: {_fmt(est.area_um2)} um^2   leakage: {_fmt(est.leakage_W)} W   "
              f"accuracy: {est.percent_accuracy}%")
    for k, v in est.notes.items():
        con.print(f"  {k}: {v}")
