"""The compare plots say what they show: shares on a linear 0-100 % axis, totals as ratios to the baseline
(one bar per configuration, never stacked on a log axis), the level that dominates the baseline's energy left
out of the per-level panel with its share stated, legends outside the data, the baseline first."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cimscope import compare_plots as cp  # noqa: E402
from cimscope import ir  # noqa: E402
from cimscope.evaluate import gemm_op  # noqa: E402
from cimscope.study import Study  # noqa: E402
from cimscope.sweep import run_grid  # noqa: E402


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    relu = ir.Op(name="relu", target="aten.relu.default", module="act", op_class="activation", kind="elementwise",
                 dims={"A": 1 << 16}, tensors=[ir.Tensor("Inputs", "input", [[("A", 1)]], 8),
                                               ir.Tensor("Outputs", "output", [[("A", 1)]], 8)],
                 elem_ops=1 << 16, ops_per_element=1.0, bytes_read=1 << 16, bytes_written=1 << 16)
    wl = ir.Workload(model="tiny", ops=[gemm_op(128, 256, 128, name="a"), relu, gemm_op(256, 256, 256, name="b")])
    cfgs = [Study(arch="a100_sm", placement="none"), Study(arch="a100_sm", placement="rf", primitive="analog6T"),
            Study(arch="a100_sm", placement="smem", primitive="digital6T")]
    return run_grid({"tiny": wl}, cfgs, workers=1, cache_dir=str(tmp_path_factory.mktemp("c")), progress=False)


def nets_of(grid):
    return [(c.label(), grid.networks[("tiny", c.label())]) for c in grid.configs]


def legend_outside(fig, ax):
    fig.canvas.draw()
    leg = ax.get_legend().get_window_extent()
    return leg.x0 >= ax.get_window_extent().x1


def test_latency_shares_are_linear_and_totals_are_single_ratio_bars(grid):
    nets = nets_of(grid)
    base = nets[0][1]
    fig = cp.latency_figure("tiny", nets, base, "baseline")
    ratio_ax, share_ax = fig.axes
    assert share_ax.get_xscale() == "linear" and share_ax.get_xlim() == (0, 100)
    gemm_bars = share_ax.containers[0]
    assert gemm_bars[0].get_width() == pytest.approx(100 * base.gemm_latency_s / base.latency_s)
    assert len(ratio_ax.containers) == 1                       # one bar per configuration, not stacked
    assert [b.get_width() for b in ratio_ax.containers[0]] == pytest.approx(
        [nr.latency_s / base.latency_s for _, nr in nets])
    assert [t.get_text() for t in ratio_ax.get_yticklabels()][0] == "baseline"
    assert legend_outside(fig, share_ax)
    plt.close(fig)


def test_energy_leaves_out_a_dominant_level_and_says_so(grid, monkeypatch):
    nets = nets_of(grid)
    base = nets[0][1]
    cats = cp.by_category(base)
    top = max(cats, key=cats.get)
    share = cats[top] / base.energy_pJ
    fig = cp.energy_figure("tiny", nets, base, "baseline")             # top level below 50 %: all levels shown
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert top in labels and "without" not in fig.axes[1].get_title()
    plt.close(fig)
    monkeypatch.setattr(cp, "DOMINANT_SHARE", share - 0.01)
    fig = cp.energy_figure("tiny", nets, base, "baseline")
    ratio_ax, level_ax = fig.axes
    assert top not in level_ax.get_legend_handles_labels()[1]
    assert f"without {top} ({100 * share:.0f}% of the baseline's energy" in level_ax.get_title()
    stacked = [sum(b.get_width() for c in level_ax.containers for b in [c[i]]) for i in range(len(nets))]
    assert stacked == pytest.approx([(nr.energy_pJ - cp.by_category(nr).get(top, 0.0)) * 1e-6 for _, nr in nets])
    assert [b.get_width() for b in ratio_ax.containers[0]] == pytest.approx(
        [nr.energy_pJ / base.energy_pJ for _, nr in nets])
    assert legend_outside(fig, level_ax)
    plt.close(fig)


def test_plot_model_writes_three_pngs_and_ratios_without_a_baseline(grid, tmp_path):
    files = cp.plot_model(grid, "tiny", tmp_path)
    assert sorted(p.rsplit("/", 1)[1] for p in files) == ["edp_tiny.png", "energy_per_level_tiny.png",
                                                         "latency_tiny.png"]
    no_base = type(grid)(networks={k: v for k, v in grid.networks.items() if k[1] != "baseline"}, errors={},
                         configs=grid.configs[1:], models=grid.models)
    files = cp.plot_model(no_base, "tiny", tmp_path / "nb")
    assert len(files) == 3 and all(open(f, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for f in files)
