"""Energy per action (pJ) of the WWW architectures, the ERT the artifact's runs used.

* SM components (DRAM, SMEM, RF, LRF, int8 MAC): the per-access energies of the WWW baseline,
  a100.yaml ``www_tensor_core_like_sm.energy_per_access_pJ`` (packaged copy cimscope/plugins/data/a100.yaml;
  Accelergy's estimates in the artifact, per vector access: DRAM 64-bit, SMEM 256-bit, RF/LRF 8-bit rows).
  What a100.yaml does not list is taken from the artifact's Accelergy ERT (github.com/tanvisharma/WWWtoCiM,
  www-cim/outputs/tensor_core_like/BERT-Large/outputs/512_1024_1024/timeloop-mapper.ERT_summary.yaml): which
  energy an ``update`` costs (SMEM, LRF, DRAM: a write; RF: a read) and the leakage per instance and cycle.
* CiM (CiMUnit, CiMStorage): the primitive table of WWW (packaged cim_macros.yaml, read through
  :data:`cimscope.plugins.cim_macro.PRIMITIVES`; the artifact's my-inputs/cim-library-accelergy/cimmac.csv and
  cimstorage.csv hold the same figures): a MAC costs ``mac_energy_pJ``, a CiMStorage write or update
  ``write_energy_pJ`` per row (Timeloop's vector access), reads 0. CiMInpBuffer and CiMOutBuffer are the
  artifact's ``zero`` storage: 0 pJ for every action.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from cimscope.plugins import cim_macro

#: The CiM primitive table (one source: the packaged cim_macros.yaml).
CIM_TABLE: dict[str, dict] = cim_macro.PRIMITIVES
ZERO = {"read": 0.0, "write": 0.0, "update": 0.0, "leak": 0.0}

#: Leakage, pJ per instance per cycle (artifact ERT_summary, see the module docstring).
LEAK_PJ = {"DRAM": 0.0, "SMEM": 0.007902, "RF": 0.010198, "LRF": 0.0, "mac": 0.003}
#: a100.yaml key per component, and which a100.yaml figure an update costs (artifact ERT_summary).
_A100_KEY = {"DRAM": "dram", "SMEM": "smem", "RF": "register_file", "LRF": "local_register"}
_UPDATE_AS = {"DRAM": "write", "SMEM": "write", "RF": "read", "LRF": "write"}


def _a100() -> dict:
    path = Path(cim_macro.__file__).with_name("data") / "a100.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["www_tensor_core_like_sm"]["energy_per_access_pJ"]


_SM = _a100()


def sm_energy(component: str) -> dict[str, float]:
    """ERT row of one SM component: DRAM, SMEM, RF, LRF or mac."""
    if component == "mac":
        return {"compute": float(_SM["int8_mac"]), "leak": LEAK_PJ["mac"]}
    row = _SM[_A100_KEY[component]]
    return {"read": float(row["read"]), "write": float(row["write"]),
            "update": float(row[_UPDATE_AS[component]]), "leak": LEAK_PJ[component]}


def cim_energy(primitive: str) -> dict[str, dict[str, float]]:
    """ERT rows of a primitive's CiMUnit (``unit``) and CiMStorage (``storage``)."""
    p = CIM_TABLE[primitive]
    w = float(p["write_energy_pJ"])
    return {"unit": {"compute": float(p["mac_energy_pJ"])},
            "storage": {"read": 0.0, "write": w, "update": w, "leak": 0.0}}
