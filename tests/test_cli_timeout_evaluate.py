"""--timeout on evaluate, compare, bitfluid and profile: a file.py:factory model whose code runs too long is stopped with one
line naming --timeout (exit 2); a bad value is refused at the door."""
import subprocess
import sys
import time

import pytest

SLOW = """
import torch

def make():
    while True:
        pass
    return torch.nn.Linear(8, 8), (torch.randn(2, 8),)
"""


@pytest.mark.parametrize("command", [["evaluate", "--model"], ["compare", "--placements", "none", "--model"],
                                     ["bitfluid", "--configs", "int8", "--model"], ["profile"]])
def test_timeout_stops_a_slow_factory(command, tmp_path):
    # as users run it: one command per process (the alarm interrupts the factory's code)
    (tmp_path / "slow.py").write_text(SLOW)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "cimscope"] + command + [
        f"{tmp_path / 'slow.py'}:make", "--timeout", "1", "--out", str(tmp_path / "out")]
        + (["--cache-dir", str(tmp_path / "c")] if command[0] != "profile" else []),
        capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and time.perf_counter() - t0 < 60
    assert "did not finish within 1 s (--timeout)" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("command", [["evaluate", "--model"], ["compare", "--model"],
                                     ["bitfluid", "--configs", "int8", "--model"], ["profile"]])
def test_bad_timeout_refused(command, capsys):
    from cimscope.cli import main
    assert main(command + ["resnet18", "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err
