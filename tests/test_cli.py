"""The command line (fastinit info / bench / simulate / sweep / probe): what each command prints and writes,
usage errors that name the option before any work, and a fuzz of argument lists."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fastinit as fi
from fastinit import _core
from fastinit.cli import _main as cli
from fastinit.experiment import _journal as journal, _sweep as SW


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


def test_bench_figure_tells_floor_rows_and_noisy_ceilings_from_slowdowns():
    """Throughput against ndarray.fill (0.12x: a fraction of the memory floor) was drawn like a speedup, as if
    fastinit were 8x slower; a noisy quick run drew the ceiling under the measured value without a word."""
    pytest.importorskip("matplotlib")
    from fastinit.cli import bench as _bench

    rows = [("normal vs torch normal_", 4.0), ("normal throughput / ndarray.fill", 0.12),
            ("simulate d10 w500 b1000 vs NumPy loop", 3.0),
            ("bare matmuls d10 w500 b1000 vs NumPy loop (ceiling)", 2.5),
            ("simulate d10 w500 b1000 vs PyTorch loop", 2.0),
            ("bare matmuls d10 w500 b1000 vs PyTorch loop (ceiling)", 2.6)]
    ax = _bench.plot_bench(rows).axes[0]
    texts = {round(float(t.get_position()[1])): t.get_text() for t in ax.texts}   # by bar position, top first
    assert texts[4] == "0.12x of the floor" and texts[5] == "4.00x"
    assert texts[2] == "2.50x (under the measured: a noisy run)" and texts[0] == "2.60x"
    colours = [bar.get_facecolor() for bar in ax.patches[:len(rows)]]
    assert colours[1] != colours[0] and colours[2] == colours[0]
    assert any("fraction of ndarray.fill" in t.get_text() for t in ax.get_legend().texts)


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


# --- sweep ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1:0", "a:b", "1:5:0", "3:", "x", ""])
def test_malformed_ranges(text):
    with pytest.raises(ValueError, match="--depth"):
        cli.parse_int_list(text, "depth")


def test_ranges():
    assert cli.parse_int_list("1:5") == [1, 2, 3, 4, 5]
    assert cli.parse_int_list("2:10:4,64") == [2, 6, 10, 64]


def test_cli_sweep(tmp_path, capsys):
    out, png = tmp_path / "c.csv", tmp_path / "c.png"
    assert cli.main(["sweep", "--depth", "2:6:2", "--width", "8,16", "--activation", "tanh,relu", "--init",
                     "he_normal", "--batch", "8", "--out", str(out), "--plot", str(png), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "SweepResult(12 rows, 12 ok, 0 failed)" in text
    assert len(SW.SweepResult.from_csv(out)) == 12 and png.exists()
    alone = tmp_path / "alone.csv"
    assert cli.main(["sweep", "--depth", "2:6:2", "--width", "8,16", "--activation", "tanh,relu", "--init",
                     "he_normal", "--batch", "8", "--out", str(alone), "--no-progress", "--no-share-prefixes"]) == 0
    # the same rows as the run that shares prefixes of depth between configurations
    shared = {journal.row_key(r): r for r in SW.SweepResult.from_csv(out).rows}
    separate = {journal.row_key(r): r for r in SW.SweepResult.from_csv(alone).rows}
    assert shared.keys() == separate.keys()
    for key, row in separate.items():
        np.testing.assert_array_equal(row["h_std_layers"], shared[key]["h_std_layers"])
        assert row["final_h_std"] == shared[key]["final_h_std"], key


@pytest.mark.parametrize("argv,match", [
    (["sweep", "--depth", "1:0"], "--depth: cannot read '1:0'"),
    (["sweep", "--width", "a:b"], "--width: cannot read 'a:b'"),
    (["sweep", "--init", "nope"], "unknown init 'nope'"),
    (["sweep", "--batchnorm", "maybe"], "--batchnorm"),
])
def test_cli_sweep_bad_arguments(argv, match, cli_usage_error):
    assert match in cli_usage_error(argv + ["--no-progress"])


# --- probe ---------------------------------------------------------------------------------------------------


def test_cli_probe(tmp_path, capsys):
    png, js = tmp_path / "probe.png", tmp_path / "probe.json"
    assert cli.main(["probe", "hf:ResNetConfig", "--set", "embedding_size=16", "--set", "hidden_sizes=[16,32]",
                     "--set", "depths=[1,1]", "--input-shape", "2,3,32,32", "--backward", "--plot", str(png),
                     "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "ProbeResult(ResNetModel" in out and png.read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["probe", "torch.nn:Linear", "--set", "in_features=8", "--set", "out_features=4",
                     "--input-shape", "3,8"]) == 0
    assert "Linear" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["probe", "nope"], "expected MODULE:CALLABLE or hf:ConfigClass"),
    (["probe", "hf:NopeConfig"], "transformers has no config class"),
    (["probe", "torch.nn:Linear", "--set", "in_features=8", "--set", "out_features=4"], "--input-shape is needed"),
    (["probe", "hf:GPT2Config", "--set", "colour=1"], "GPT2Config has no attribute 'colour'"),
])
def test_cli_probe_bad_arguments(argv, match, cli_usage_error):
    assert match in cli_usage_error(argv)


# --- a fuzz of the command line ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.sampled_from(["simulate", "sweep", "train", "bench", "info", "--depth", "0", "-3", "1e11",
                                      "2:1",
                                       "--threads", "99999999999", "--width", "x", "--init", "nope", "--max-layers",
                                       "--seeds", "18446744073709551616", "--plot", "/nonexistent/p.png", "--bins",
                                       "--batchnorm", "maybe", "--dtype", "float16", "3", "5", "--lr", "--steps",
                                       "--sigma-w2", "--sigma-b2", "--train-steps", "--data"]), max_size=6))
def test_cli_arguments(argv, capsys):
    """Bad command lines end in a usage error (exit 2) or a one-line message, never a traceback."""
    if argv[:1] == ["bench"] or "bench" in argv[:1]:
        argv = ["info"]   # (bench is timed work: its arguments are covered by test_cli)
    safe = [a if a not in ("3", "5") or i == 0 or argv[i - 1] not in ("--depth", "--width") else "2"
            for i, a in enumerate(argv)]
    if "sweep" in safe[:1] or "simulate" in safe[:1]:
        safe += ["--depth", "2", "--width", "4", "--batch", "4"] if "--batch" not in safe else []
        safe += ["--no-progress"] if safe[0] == "sweep" else []
        safe += ["--train-steps", "2"] if safe[0] == "sweep" and "--train-steps" in safe else []
    if "train" in safe[:1]:
        safe += ["--depth", "2", "--width", "4", "--steps", "2", "--no-progress"]
    try:
        code = cli.main(safe)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 1, 2, None), (safe, code, err)
    if code == 2:
        assert "error:" in err


# --- errors that printed a traceback ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv, code, message", [
    (["probe", "torch.nn:Linear", "--set", "in_features=3", "--set", "out_features=2", "--input-shape", "2,4"], 1,
     "fastinit probe: the model's forward pass raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    (["probe", "hf:GPT2Config", "--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2", "--input-shape",
      "2,5000"], 1, "fastinit probe: the model's forward pass raised IndexError"),
    (["probe", "os:getcwd", "--input-shape", "2,3"], 2, "model: os:getcwd() returned a str, not a torch.nn.Module"),
    (["simulate", "--depth", "2", "--width", "50000000"], 1, "fastinit simulate: out of memory"),
    (["sweep", "--depth", "1:200000000", "--no-progress"], 2, "--depth: '1:200000000' lists more than 100000 values"),
    (["sweep", "--depth", "2", "--width", "8", "--scheduler-timeout", "-1", "--no-progress"], 2,
     "--scheduler-timeout must be > 0 seconds, got -1.0"),
])
def test_failures_are_one_line_and_a_status(argv, code, message, capsys):
    try:
        got = cli.main(argv)
    except SystemExit as exc:
        got = exc.code
    err = capsys.readouterr().err
    assert got == code and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()[-1]) > 0


def test_ctrl_c_in_a_parquet_sweep_names_the_journal_that_holds_the_rows(tmp_path, monkeypatch, capsys):
    """It said the rows were in x.parquet; until the sweep ends they are in x.parquet.rows.csv."""
    def interrupted(**kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(SW, "sweep", interrupted)
    out = tmp_path / "x.parquet"
    assert cli.main(["sweep", "--depth", "2", "--width", "8", "--out", str(out), "--no-progress"]) == 130
    assert f"the finished rows are in {out}.rows.csv" in capsys.readouterr().err


def test_train_command_runs_compares_and_writes(tmp_path, capsys):
    pytest.importorskip("sklearn")
    png, js = tmp_path / "curves.png", tmp_path / "runs.json"
    argv = ["train", "--depth", "3", "--width", "16", "--steps", "30", "--compare", "small_normal,sigma_w2=1.0",
            "--json", str(js), "--no-progress"]
    plotting = _importable("matplotlib")
    if plotting:
        argv += ["--plot", str(png)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("TrainResult(") == 2 and "init={'sigma_w2': 1.0}" in out
    runs = json.loads(js.read_text())
    assert len(runs) == 2 and len(runs[0]["history"]["loss"]) == 30 and "test_accuracy" in runs[1]["summary"]
    if plotting:
        assert png.stat().st_size > 10_000


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_train_command_reads_arrays_from_npz(tmp_path, capsys, cli_usage_error):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = (X[:, 0] > 0).astype(np.int64)
    path = tmp_path / "d.npz"
    np.savez(path, X=X[:80], y=y[:80], X_test=X[80:], y_test=y[80:])
    assert cli.main(["train", "--depth", "2", "--width", "8", "--steps", "50", "--batch", "16", "--lr", "0.05",
                     "--data", str(path), "--no-progress"]) == 0
    assert "data='arrays'" in capsys.readouterr().out
    np.savez(tmp_path / "bad.npz", features=X)
    assert "has no X, y array" in cli_usage_error(["train", "--data", str(tmp_path / "bad.npz")])


@pytest.mark.parametrize("argv, match", [
    (["train", "--lr", "0"], "lr must be > 0"), (["train", "--steps", "0"], "steps must be >= 1"),
    (["train", "--data", "mnist"], "unknown data 'mnist'"),
    (["sweep", "--sigma-b2", "0.1"], "training sweeps"), (["sweep", "--sigma-w2", "a,b"], "--sigma-w2: expected"),
    (["sweep", "--train-steps", "5", "--lr", "-1"], "lr must be > 0")])
def test_train_options_usage_errors(cli_usage_error, argv, match):
    assert match in cli_usage_error(argv)


def test_sweep_command_trains(tmp_path, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "t.csv"
    assert cli.main(["sweep", "--depth", "2,3", "--width", "8", "--sigma-w2", "1,2", "--sigma-b2", "0.05",
                     "--train-steps", "10", "--batch", "32", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "test acc" in text and "xi_c" in text
    rows = SW.SweepResult.from_csv(str(out)).rows
    assert len(rows) == 4 and all(r["train"].startswith("steps=10 ") and r["sigma_b2"] == 0.05 for r in rows)


def test_version_and_the_lazy_names(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastinit {fi.__version__} (distribution {fi.DISTRIBUTION})"
    assert {"fast_init", "torch", "theory", "train", "sweep"} <= set(dir(fi))


def test_the_sweep_table_names_the_seed():
    res = SW.sweep(depth=2, width=4, seeds=[0, 1], batch=4, progress=False)
    lines = repr(res).splitlines()
    assert "seed" in lines[1].split() and [line.split()[4] for line in lines[2:]] == ["0", "1"]


def test_probe_with_a_seed_is_reproducible(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    (tmp_path / "probe_net.py").write_text(
        "import torch\n\ndef build():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    runs = []
    for i in range(2):   # in one process: torch's generator has moved on between the two builds
        out = tmp_path / f"p{i}.json"
        assert cli.main(["probe", "probe_net:build", "--input-shape", "4,8", "--seed", "3", "--json", str(out)]) == 0
        runs.append(json.loads(out.read_text()))
    assert runs[0] == runs[1]


def test_train_and_probe_arguments_are_named(cli_usage_error, tmp_path, monkeypatch):
    """Each of these trained nothing and exited 0, printed a traceback, or gave NumPy's words without the option."""
    assert "--compare needs at least one init name" in cli_usage_error(["train", "--compare", ",", "--steps", "1"])
    assert "--init: 'sigma_w2=abc': expected a scheme name or sigma_w2=<number>" in cli_usage_error(
        ["train", "--init", "sigma_w2=abc", "--steps", "1"])
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    assert f"--data: cannot read {bad} as a .npz" in cli_usage_error(["train", "--data", str(bad), "--steps", "1"])
    objects = tmp_path / "objects.npz"
    np.savez(objects, X=np.array([[1]], dtype=object), y=np.array([0]))
    assert "--data: cannot read" in cli_usage_error(["train", "--data", str(objects), "--steps", "1"])
    err = cli_usage_error(["train", "--activaton", "relu"])   # the subcommand's usage, naming the option
    assert err.startswith("usage: fastinit train") and "unrecognized arguments: --activaton relu" in err
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    err = cli_usage_error(["probe", "hf:GPT2Config", "--set", "n_layer=x"])
    assert "--set n_layer='x': GPT2Config refuses it" in err and "Traceback" not in err


def test_out_of_memory_says_something(capsys, monkeypatch):
    from fastinit.cli import _main as cli

    def no_memory(args):
        raise MemoryError()

    monkeypatch.setattr(cli, "_info", no_memory)
    monkeypatch.setattr(cli.sys, "argv", ["fastinit"])
    parser_func = cli.main
    assert parser_func(["info"]) == 1
    assert "out of memory (no details)" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["info", "bench"])
def test_every_command_has_a_description(command, capsys):
    from fastinit.cli import _main as cli

    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert len(out.split("options:")[0].strip().splitlines()) >= 3, out   # usage, a blank line, the description


def test_no_stray_public_names():
    import fastinit

    assert "PackageNotFoundError" not in dir(fastinit)
