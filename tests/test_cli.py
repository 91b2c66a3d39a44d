import json
import subprocess
import sys
import time

import pytest

import fastinit as fi
from fastinit import _core, cli


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert fi.__version__ in out
    assert f"SIMD path      {_core.get_simd()}" in out
    assert ("OpenMP         yes" in out) == _core.have_openmp()
    assert f"threads        {fi.get_num_threads()}" in out


def test_info_as_a_program():
    out = subprocess.run([sys.executable, "-m", "fastinit.cli", "info"], capture_output=True, text=True, check=True)
    assert "SIMD path" in out.stdout


def test_bench_quick_writes_ratios(tmp_path, capsys, threads):
    path, png = tmp_path / "bench.json", tmp_path / "bench.png"
    t0 = time.perf_counter()
    assert cli.main(["bench", "--quick", "--json", str(path), "--plot", str(png), "--threads", "1"]) == 0
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert "normal vs NumPy PCG64 standard_normal" in out and "simulate d10 w500 b1000 vs NumPy loop" in out
    data = json.loads(path.read_text())
    assert data["threads"] == 1 and data["elements"] == 2**22
    ratios = {r["comparison"]: r["speedup"] for r in data["ratios"]}
    assert ratios["normal vs NumPy PCG64 standard_normal"] > 0
    assert ratios["simulate d10 w500 b1000 vs NumPy loop"] > 0
    assert set(data["seconds"]) >= {"fastinit_normal", "ndarray_fill", "numpy_pcg64_standard_normal",
                                    "fastinit_simulate_d10_w500", "numpy_loop_d10_w500"}
    assert png.read_bytes()[:4] == b"\x89PNG"
    print(f"fastinit bench --quick took {elapsed:.1f} s")   # the < 1 minute budget is checked in bench/, not here


def test_bad_arguments(cli_usage_error):
    err = cli_usage_error(["bench", "--threads", "0"])
    assert "--threads must be in [1, 1024], got 0" in err and "usage: fastinit bench" in err
    assert "--threads must be in [1, 1024]" in cli_usage_error(["simulate", "--threads", "100000000000"])
    assert "required" in cli_usage_error([])


def test_messages_name_the_option_and_come_before_the_work(cli_usage_error, tmp_path, monkeypatch):
    """Checked before any simulation runs (they used to surface after the whole run, or as a traceback)."""
    monkeypatch.setattr(fi, "simulate", lambda **kw: pytest.fail("ran before checking the options"))
    err = cli_usage_error(["simulate", "--plot", "/nonexistent/x.png"])
    assert "--plot: cannot write '/nonexistent/x.png': the folder '/nonexistent' does not exist" in err
    assert "usage: fastinit simulate" in err
    assert "--max-layers must be >= 1, got -3" in cli_usage_error(["simulate", "--max-layers", "-3"])
    assert "--json: cannot write" in cli_usage_error(["simulate", "--json", str(tmp_path / "no" / "x.json")])
    monkeypatch.undo()
    err = cli_usage_error(["simulate", "--init", "nope"])   # (simulate checks it before any work)
    assert "usage: fastinit simulate" in err and "usage: fastinit [-h]" not in err


def test_unreachable_scheduler_is_one_line(cli_usage_error):
    pytest.importorskip("distributed")
    err = cli_usage_error(["sweep", "--depth", "2", "--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout", "1"])
    assert "--scheduler: cannot reach 'tcp://127.0.0.1:9'" in err and "Traceback" not in err


def test_sweep_says_how_many_rows_it_wrote(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert cli.main(["sweep", "--depth", "2,3", "--width", "8", "--batch", "4", "--no-progress", "--out",
                     str(out)]) == 0
    assert f"2 rows (2 ok, 0 failed) in {out}" in capsys.readouterr().out


def test_simulate_prints_the_table_and_writes_json_and_plot(tmp_path, capsys):
    js, png = tmp_path / "sim.json", tmp_path / "layers.png"
    argv = ["simulate", "--depth", "4", "--width", "64", "--batch", "100", "--activation", "tanh",
            "--compare", "small_normal,xavier_normal", "--backward", "--json", str(js), "--plot", str(png)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("SimulationResult(depth=4") == 2 and "grad_h_std" in out
    data = json.loads(js.read_text())
    assert [d["config"]["init"] for d in data] == ["small_normal", "xavier_normal"]
    # the table is what the engine computed
    res = fi.simulate(depth=4, width=64, batch=100, activation="tanh", init="small_normal", backward=True)
    assert data[0]["layers"]["h_std"] == res.layers["h_std"].tolist()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_single_run_json(tmp_path, capsys):
    js = tmp_path / "one.json"
    assert cli.main(["simulate", "--depth", "2", "--width", "16", "--batch", "8", "--activation", "relu",
                     "--init", "he_normal", "--batchnorm", "--json", str(js)]) == 0
    data = json.loads(js.read_text())
    assert data["config"]["batchnorm"] is True and len(data["layers"]["h_std"]) == 2


@pytest.mark.parametrize("argv,match", [
    (["simulate", "--init", "nope"], "unknown init 'nope'"),
    (["simulate", "--activation", "swish"], "unknown activation 'swish'"),
    (["simulate", "--depth", "0"], "depth must be >= 1"),
    (["simulate", "--compare", ","], "at least one name"),
])
def test_simulate_bad_arguments(argv, match, cli_usage_error):
    assert match in cli_usage_error(argv)


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--depth", "2", "--width", "8", "--batch", "4", "--plot", str(tmp_path / "x.png")])
    assert "pip install 'fastinit-philox[plot]'" in capsys.readouterr().err
    res = fi.simulate(depth=2, width=8, batch=4)
    with pytest.raises(ImportError, match="fastinit-philox\\[plot\\]"):
        res.plot(tmp_path / "y.png")
    assert not (tmp_path / "y.png").exists()
