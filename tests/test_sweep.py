"""fi.sweep: rows, resume after a kill or Ctrl-C, a dask.distributed executor, failures, bad input, plot (the CLI's
sweep command: test_cli.py)."""
import csv
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastinit as fi
from fastinit.experiment import _journal as journal, _simulation as S, _sweep as SW

# 200 configurations, depth up to 50, width up to 512 (acceptance 2)
GRID = dict(depth=[2, 10, 20, 35, 50], width=[16, 64, 128, 256, 512], activation=["tanh", "relu"],
            init=["xavier_normal", "he_normal", "small_normal", "lecun_normal"], batch=64)
GRID_ARGS = ["--depth", "2,10,20,35,50", "--width", "16,64,128,256,512", "--activation", "tanh,relu",
             "--init", "xavier_normal,he_normal,small_normal,lecun_normal", "--batch", "64", "--no-progress"]


def comparable(rows):
    """Rows without the wall time, sorted by configuration."""
    return sorted(({k: v for k, v in r.items() if k != "wall_s"} for r in rows), key=lambda r: repr(journal.row_key(r)))


def same_rows(a, b):
    a, b = comparable(a), comparable(b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], np.ndarray):   # the per-layer series
                assert isinstance(y[k], np.ndarray) and np.array_equal(x[k], y[k], equal_nan=True), (k, x, y)
                continue
            assert x[k] == y[k] or (isinstance(x[k], float) and np.isnan(x[k]) and np.isnan(y[k])), (k, x, y)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "full.csv"
    res = fi.sweep(**GRID, out=path, progress=False)
    return res, path


def test_grid_rows_and_values(full_run):
    res, path = full_run
    assert len(res) == 200 and not res.failed
    assert [journal.row_key(r) for r in res.rows][:2] == [(2, 16, "tanh", "xavier_normal", False, 64, 0, False, 0.0,
                                                           ""),
                                                 (2, 16, "tanh", "he_normal", False, 64, 0, False, 0.0, "")]
    # a row is what fi.simulate says about that configuration
    row = next(r for r in res.rows if r["depth"] == 20 and r["width"] == 128 and r["activation"] == "relu"
               and r["init"] == "he_normal")
    with threadpool_limits(1, user_api="blas"):   # sweeps run each configuration single-threaded
        sim = fi.simulate(depth=20, width=128, batch=64, activation="relu", init="he_normal")
    assert row["final_h_std"] == sim.layers["h_std"][-1]
    assert row["theory_final_h_std"] == pytest.approx(sim.theory.h_std[-1])
    # the per-layer series are arrays in memory (the CSV's text encoding stays in the journal)
    assert isinstance(row["h_std_layers"], np.ndarray) and row["h_std_layers"].dtype == np.float64
    assert np.array_equal(row["h_std_layers"], sim.layers["h_std"])
    assert isinstance(row["theory_h_std_layers"], np.ndarray) and row["theory_h_std_layers"].size == 20
    read = {journal.row_key(r): r for r in SW.SweepResult.from_csv(path).rows}[journal.row_key(row)]
    assert np.array_equal(read["h_std_layers"], row["h_std_layers"])   # bit for bit through the CSV
    assert row["final_zero_frac"] == sim.layers["h_zero_frac"][-1]
    # the file holds the same rows as the result, and reads back exactly
    same_rows(SW.SweepResult.from_csv(path).rows, res.rows)
    # small random weights collapse, He keeps relu alive: the sweep sees it
    small = [r for r in res.rows if r["init"] == "small_normal" and r["depth"] == 50]
    assert all(r["final_h_std"] < 1e-20 for r in small)
    he = [r for r in res.rows if r["init"] == "he_normal" and r["activation"] == "relu" and r["width"] == 512]
    assert all(0.2 < r["final_h_std"] < 3 for r in he)


def _wait_rows(path, n, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if path.exists() and path.read_text().count("\n") > n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before {n} rows: {proc.communicate()}")
        time.sleep(0.02)
    pytest.fail("no progress")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_interrupted_sweep_resumes_to_the_same_rows(full_run, tmp_path, sig):
    """Kill (or Ctrl-C) a sweep halfway, rerun with resume: the same rows and values as one uninterrupted run.
    The widest networks run first (5 depths each, one shared simulation) and are 3/4 of the grid's products, so
    56% of the work is done when 30 of the 40 width-512 rows are written."""
    path = tmp_path / "part.csv"
    argv = [sys.executable, "-m", "fastinit.cli", "sweep", *GRID_ARGS, "--out", str(path), "--workers", "2"]
    # a shell that starts pytest in the background leaves SIGINT ignored, and an ignored SIGINT stays ignored in
    # the child (Python then installs no KeyboardInterrupt handler): give the sweep the default disposition
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_rows(path, 30, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    written = SW.SweepResult.from_csv(path).rows
    assert 30 <= len(written) < 200, len(written)   # halfway, and every written row is whole
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "run the same command again to resume" in err
    with open(path) as f:
        assert all(len(r) == len(SW.COLUMNS) for r in csv.reader(f))
    rerun = subprocess.run(argv, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    same_rows(SW.SweepResult.from_csv(path).rows, full_run[0].rows)


def test_resume_skips_finished_rows_and_a_partial_line(full_run, tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    text = full_run[1].read_text()
    lines = text.splitlines(keepends=True)
    path.write_text("".join(lines[:51]) + lines[51][:40])   # 50 rows and half a line, as a kill mid-write leaves
    kept = {journal.row_key(r) for r in SW.SweepResult.from_csv(path).rows}
    assert len(kept) == 50
    calls = []
    real = SW.run_group
    monkeypatch.setattr(SW, "run_group", lambda cs, *args: calls.extend(cs) or real(cs, *args))
    res = fi.sweep(**GRID, out=path, progress=False, workers=1)
    assert len(calls) == 150
    assert {journal.row_key(c) for c in calls} == {journal.row_key(r) for r in full_run[0].rows} - kept
    same_rows(res.rows, full_run[0].rows)
    same_rows(SW.SweepResult.from_csv(path).rows, full_run[0].rows)
    calls.clear()
    fi.sweep(**GRID, out=path, progress=False)   # all done: nothing runs
    assert calls == []


def test_dask_local_cluster_gives_identical_rows(full_run):
    distributed = pytest.importorskip("distributed")   # a test extra, installed in CI
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            res = fi.sweep(**GRID, executor=client.get_executor(), progress=False)
    same_rows(res.rows, full_run[0].rows)


def test_a_failing_row_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    real = S.simulate

    def flaky(**kw):
        if kw["width"] == 24:
            raise RuntimeError("worker lost")
        return real(**kw)
    monkeypatch.setattr(S, "simulate", flaky)
    path = tmp_path / "f.csv"
    res = fi.sweep(depth=[2, 3], width=[8, 24], out=path, progress=False, batch=16)
    assert len(res) == 4 and len(res.failed) == 2
    assert all(r["error"] == "RuntimeError: worker lost" and np.isnan(r["final_h_std"]) for r in res.failed)
    assert all(r["status"] == "ok" for r in res.rows if r["width"] == 8)
    assert SW.SweepResult.from_csv(path).failed == res.failed or len(SW.SweepResult.from_csv(path).failed) == 2


def _counting_simulate(monkeypatch, fail_deeper_than=None):
    calls = []
    real = S.simulate

    def counted(**kw):
        calls.append(kw)
        if fail_deeper_than is not None and kw["depth"] > fail_deeper_than:
            raise MemoryError("too deep")
        return real(**kw)
    monkeypatch.setattr(S, "simulate", counted)
    return calls


def test_shared_prefixes_give_the_rows_of_separate_simulations(monkeypatch):
    """A depth series runs once, at its deepest, and its rows are those of one simulation per depth, bit for bit
    (relu's histograms take each layer's own range, batch norm, two seeds, an odd width)."""
    grid = dict(depth=[1, 3, 4, 9], width=[7, 33], activation=["relu", "tanh", "selu"], init=["he_normal",
                                                                                              "orthogonal"],
                batchnorm=[False, True], seeds=[0, 5], batch=19, progress=False)
    calls = _counting_simulate(monkeypatch)
    shared = fi.sweep(**grid)
    assert len(shared) == 4 * 2 * 3 * 2 * 2 * 2 and not shared.failed
    assert len(calls) == len(shared) // 4 and {c["depth"] for c in calls} == {9}
    calls.clear()
    alone = fi.sweep(**grid, share_prefixes=False)
    assert len(calls) == len(alone)
    same_rows(shared.rows, alone.rows)
    # the time of a row cut from a deeper run is the time until its last layer
    series = [r["wall_s"] for r in shared.rows if (r["width"], r["activation"], r["init"], r["batchnorm"], r["seed"])
              == (33, "tanh", "orthogonal", True, 5)]
    assert len(series) == 4 and 0 < series[0] <= series[1] <= series[2] <= series[3]


@pytest.mark.parametrize("share", [True, False])
def test_theory_is_predicted_once_per_kind_at_the_deepest_depth(monkeypatch, share):
    from fastinit.experiment import theory

    SW._THEORY.clear()
    depths = []
    real = theory.predict
    monkeypatch.setattr(theory, "predict", lambda **kw: depths.append(kw["depth"]) or real(**kw))
    res = fi.sweep(depth=[2, 7, 4], width=[8, 9], activation=["tanh"], batch=5, progress=False, workers=1,
                   share_prefixes=share)
    assert depths == [7, 7]
    assert [len(r["theory_h_std_layers"]) for r in res.rows] == [2, 2, 7, 7, 4, 4]


def test_backward_configurations_are_not_shared(monkeypatch):
    calls = _counting_simulate(monkeypatch)
    res = fi.sweep(depth=[2, 5], width=[8], activation=["tanh"], backward=True, batch=6, progress=False)
    assert sorted(c["depth"] for c in calls) == [2, 5]
    # the gradient ratio of depth 2 is that network's own, not the top layers' of the depth-5 network
    alone = fi.simulate(depth=2, width=8, batch=6, activation="tanh", backward=True)
    g = alone.grads["grad_h_std"]
    assert res.rows[0]["grad_ratio"] == pytest.approx(g[0] / g[-1], rel=1e-5)


def test_run_group_refuses_configurations_it_cannot_share():
    base = dict(depth=2, width=8, activation="tanh", init="he_normal", batchnorm=False, batch=4, seed=0, backward=False)
    for other in (dict(base, depth=3, width=9), dict(base, depth=3, seed=1), dict(base, depth=3, backward=True)):
        with pytest.raises(ValueError, match="differ only in depth"):
            SW.run_group([base, other])
    assert [r["depth"] for r in SW.run_group([base, dict(base, depth=3)])] == [3, 2]


def test_a_failing_shared_simulation_retries_each_depth(monkeypatch):
    calls = _counting_simulate(monkeypatch, fail_deeper_than=3)
    res = fi.sweep(depth=[2, 3, 6], width=[8], batch=6, progress=False)
    assert [c["depth"] for c in calls] == [6, 2, 3, 6]
    assert [r["status"] for r in res.rows] == ["ok", "ok", "failed"]
    assert res.rows[2]["error"] == "MemoryError: too deep"


def test_sweep_restores_the_thread_settings(threads):
    fi.set_num_threads(2)
    from threadpoolctl import threadpool_info
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    fi.sweep(depth=[2], width=[8, 9], batch=4, progress=False)
    assert fi.get_num_threads() == 2
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before


def test_explicit_configs_and_views():
    res = fi.sweep(configs=[dict(depth=3, width=16, activation="selu", init="lecun_normal", backward=True),
                            dict(depth=2, width=8, activation="tanh", init="xavier_normal", seed=4, batch=10)],
                   progress=False)
    assert [r["activation"] for r in res.rows] == ["selu", "tanh"]
    assert np.isfinite(res.rows[0]["grad_ratio"]) and np.isnan(res.rows[1]["grad_ratio"])
    assert res.rows[1]["seed"] == 4 and res.rows[1]["batch"] == 10
    df = res.to_pandas()
    assert list(df.columns) == list(SW.COLUMNS) and len(df) == 2
    assert "SweepResult(2 rows, 2 ok, 0 failed)" in repr(res)


def test_progress_line_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    fi.sweep(depth=[2], width=[8, 9], batch=4, progress=True)
    assert "sweep: 2/2 configurations" in capsys.readouterr().err


def test_plot(full_run, tmp_path):
    fig = full_run[0].plot(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 20_000
    titles = {ax.get_title() for ax in fig.axes}
    assert {"tanh, xavier_normal", "relu, he_normal"} <= titles
    # one colour scale for every heatmap, centred on std 1, one colour bar; every axis holds something
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 8 and len({id(im.norm) for im in images}) == 1 and images[0].norm.vcenter == 0
    assert all(ax.images or ax.lines or ax.collections for ax in fig.axes)
    curve = [ax for ax in fig.axes if ax.lines][0]
    measured = [ln for ln in curve.lines if ln.get_linewidth() < 5]
    assert len(measured) == 8 * 5   # every (activation, init) pair at every width
    # the theory's bands: one per pair where it is the same at every width; small_normal's sigma_w^2 = 1e-4 width
    # makes one per width
    bands = [ln for ln in curve.lines if ln.get_linewidth() >= 5]
    assert len(bands) == 6 * 1 + 2 * 5


# --- bad input ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,exc,match", [
    (dict(depth=[]), ValueError, "depth is empty"),
    (dict(init=[]), ValueError, "init is empty"),
    (dict(configs=[]), ValueError, "configs is empty"),
    (dict(activation=["tanh", "swish"]), ValueError, "unknown activation 'swish'"),
    (dict(init=["xavier"]), ValueError, "unknown init 'xavier'"),
    (dict(depth=[0]), ValueError, "depth must be an integer >= 1"),
    (dict(width=[2.5]), ValueError, "width must be an integer"),
    (dict(batchnorm=["yes"]), TypeError, "batchnorm must be True or False"),
    (dict(configs=[dict(depth=2, width=3, activation="tanh")]), ValueError, "missing \\['init'\\]"),
    (dict(workers=0), ValueError, "workers must be an integer >= 1"),
    (dict(configs=[dict(depth=2, width=3, activation="tanh", init="he_normal", colour=1)]), ValueError, "colour"),
    (dict(executor=5), TypeError, "executor must be"),
    (dict(out=open(os.devnull, "wb")), TypeError, "out must be a file path"),
    (dict(seeds=[2**64]), ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
])
def test_bad_grids(kw, exc, match):
    with pytest.raises(exc, match=match):
        fi.sweep(**kw, progress=False)


def test_out_file_of_another_kind_is_left_untouched(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="not a fastinit sweep"):
        fi.sweep(depth=[2], width=[8], out=path, progress=False)
    assert path.read_bytes() == before


def test_unwritable_out(tmp_path):
    with pytest.raises(OSError, match="cannot write its rows to"):
        fi.sweep(depth=[2], width=[8], out=tmp_path / "missing-dir" / "s.csv", progress=False)
    with pytest.raises(OSError, match="cannot write its rows to"):
        fi.sweep(depth=[2], width=[8], out=tmp_path, progress=False)   # a directory


def test_parquet_out_with_a_resumable_journal(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")   # a test extra, installed in CI
    path = tmp_path / "s.parquet"
    res = fi.sweep(depth=[2, 3], width=[8], activation=["tanh", "relu"], batch=8, out=path, progress=False)
    df = pd.read_parquet(path)
    assert list(df.columns) == list(SW.COLUMNS) and len(df) == 4
    assert df["final_h_std"].tolist() == [r["final_h_std"] for r in res.rows]
    # the per-layer series are lists of floats in the Parquet file, not strings
    import pyarrow.parquet as pq
    schema = pq.read_schema(path)
    for name in ("h_std_layers", "theory_h_std_layers"):
        assert str(schema.field(name).type) in ("list<element: double>", "list<item: double>"), schema.field(name)
    assert [list(v) for v in df["h_std_layers"]] == [list(r["h_std_layers"]) for r in res.rows]
    journal = SW.SweepResult.from_csv(str(path) + ".rows.csv")
    same_rows(journal.rows, res.rows)
    more = fi.sweep(depth=[2, 3, 4], width=[8], activation=["tanh", "relu"], batch=8, out=path, progress=False)
    assert len(pd.read_parquet(path)) == 6
    same_rows([r for r in more.rows if r["depth"] < 4], res.rows)


def test_a_configuration_listed_twice_runs_once(tmp_path):
    path = tmp_path / "d.csv"
    res = fi.sweep(depth=[2, 2, 3], width=[8], batch=4, out=path, progress=False)
    assert [r["depth"] for r in res.rows] == [2, 3]
    assert len(SW.SweepResult.from_csv(path)) == 2


# ------------------------------------------------------------------------------------------ reliability

REPAIR_KILL = r"""
import os, sys
from fastinit.experiment import _journal as journal
point = sys.argv[2]
real_ftruncate = os.ftruncate

def die(*a, **k):
    os._exit(9)

if point == "before-truncate":
    os.ftruncate = die
elif point == "before-sync":      # the cut record dropped, not yet synced
    os.fsync = die
elif point == "after-truncate":
    def truncate_then_die(fd, n):
        real_ftruncate(fd, n)
        os._exit(9)
    os.ftruncate = truncate_then_die
journal.Journal(sys.argv[1], True).close()
"""


@pytest.mark.parametrize("point", ["before-truncate", "after-truncate", "before-sync"])
def test_a_kill_while_a_cut_line_is_repaired_loses_no_row(full_run, tmp_path, point):
    """Resuming a file that ends in a cut record drops that record by truncating the file where the whole
    records end: one system call that cuts only the tail, on the same inode (whose lock the sweep holds), so a
    kill at any point keeps every finished row and the next resume completes the sweep to the uninterrupted rows.
    (A rewrite that emptied the file first lost rows to a kill; a rename beside it would have moved the lock.)"""
    path = tmp_path / "cut.csv"
    lines = full_run[1].read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:151]) + lines[151][:30])   # 150 rows and a cut line
    before = SW.SweepResult.from_csv(path).rows
    out = subprocess.run([sys.executable, "-c", REPAIR_KILL, str(path), point], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 9, out.stderr
    same_rows(SW.SweepResult.from_csv(path).rows, before)
    res = fi.sweep(**GRID, out=path, progress=False)
    same_rows(res.rows, full_run[0].rows)
    same_rows(SW.SweepResult.from_csv(path).rows, full_run[0].rows)


def test_a_second_sweep_on_the_same_out_refuses(tmp_path):
    path = tmp_path / "busy.csv"
    holder = journal.Journal(str(path), True)   # another sweep writing it (its lock is held)
    try:
        with pytest.raises(journal.JournalBusy, match="another sweep is writing"):
            fi.sweep(depth=2, width=8, batch=4, out=path, progress=False)
        out = subprocess.run([sys.executable, "-m", "fastinit.cli", "sweep", "--depth", "2", "--width", "8",
                              "--batch", "4", "--out", str(path), "--no-progress"], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 1 and "another sweep is writing" in out.stderr and "Traceback" not in out.stderr
    finally:
        holder.close()
    assert len(fi.sweep(depth=2, width=8, batch=4, out=path, progress=False)) == 1   # free again


def test_two_sweeps_at_once_in_one_process(threads):
    """Each gets the rows of a serial run, and the thread settings are restored once both are done."""
    import threading

    # products large enough for OpenBLAS to use threads, if a sweep's pinning were undone under the other
    grid = dict(depth=[4, 8, 16], width=[192, 384], activation=["tanh", "relu"], batch=384, progress=False,
                share_prefixes=False)
    serial = fi.sweep(**grid).rows
    before = fi.get_num_threads()
    results = [None, None]

    start = threading.Barrier(2)

    def run(i):
        start.wait()
        if i:
            time.sleep(0.05)   # the second starts while the first runs, and finishes after it
            results[i] = fi.sweep(**grid, workers=2).rows
        else:
            results[i] = fi.sweep(**{**grid, "depth": [4, 8]}, workers=2).rows

    ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    same_rows(results[1], serial)
    same_rows(results[0], [r for r in serial if r["depth"] != 16])
    assert fi.get_num_threads() == before


def test_failed_rows_are_retried_on_resume(tmp_path, monkeypatch):
    path = tmp_path / "retry.csv"
    real = S.simulate
    state = {"fail": True}

    def flaky(**kw):
        if state["fail"] and kw["width"] == 24:
            raise MemoryError("transient")
        return real(**kw)
    monkeypatch.setattr(S, "simulate", flaky)
    first = fi.sweep(depth=[2, 3], width=[8, 24], out=path, progress=False, batch=16)
    assert len(first.failed) == 2
    state["fail"] = False
    kept = fi.sweep(depth=[2, 3], width=[8, 24], out=path, progress=False, batch=16, retry_failed=False)
    assert len(kept.failed) == 2
    again = fi.sweep(depth=[2, 3], width=[8, 24], out=path, progress=False, batch=16)
    assert len(again) == 4 and not again.failed
    assert not SW.SweepResult.from_csv(path).failed and len(SW.SweepResult.from_csv(path)) == 4


def test_ctrl_c_stops_running_configurations_and_keeps_finished_rows(tmp_path):
    """Ctrl-C while two long configurations run: the sweep stops within a layer or two (it used to wait for them to
    finish), writes every row that had finished, and exits 130; rerun, it completes."""
    path = tmp_path / "ctrlc.csv"
    # 8 quick configurations, then two of ~1000 layers x 16 ms (the longest run first, so rows of the quick ones
    # arrive while the long ones run on the two workers... and one worker is free for the quick ones only after)
    configs = [dict(depth=d, width=64, activation="tanh", init="xavier_normal", batch=64) for d in range(2, 10)]
    code = f"""
import fastinit as fi
configs = {configs!r} + [dict(depth=1500, width=1024, activation="tanh", init="xavier_normal", batch=1024, seed=s)
                         for s in (1, 2, 3)]
fi.sweep(configs=configs, out={str(path)!r}, progress=False, workers=2, share_prefixes=False)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(6)   # the quick rows are done, two long configurations run (each ~24 s)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    stopped_in = time.time() - t0
    assert "KeyboardInterrupt" in err and proc.returncode != 0
    assert stopped_in < 5, stopped_in
    rows = SW.SweepResult.from_csv(path).rows
    assert len([r for r in rows if r["width"] == 64]) == 8 and all(r["status"] == "ok" for r in rows)


def test_a_link_to_a_busy_journal_is_the_same_journal(tmp_path):
    """The lock was taken on the string path + '.lock': a second sweep through a symlink or a hard link to the
    same CSV was not refused, both appended, and the interleaved half-rows made the file unreadable."""
    path = tmp_path / "busy.csv"
    holder = journal.Journal(str(path), True)
    try:
        for link, make in ((tmp_path / "soft.csv", os.symlink), (tmp_path / "hard.csv", os.link)):
            make(path, link)
            with pytest.raises(journal.JournalBusy, match="another sweep is writing"):
                fi.sweep(depth=2, width=8, batch=4, out=link, progress=False)
    finally:
        holder.close()
    assert len(fi.sweep(depth=2, width=8, batch=4, out=tmp_path / "soft.csv", progress=False)) == 1
    assert not list(tmp_path.glob("*.lock"))   # no lock files left behind


def test_resume_after_a_cut_inside_a_multi_line_error(tmp_path):
    """A journal cut just after a newline inside a quoted error field could not be resumed: the 'last line is
    partial' test saw a complete line, and the half record then failed to parse."""
    path = tmp_path / "errors.csv"
    done = fi.sweep(depth=[2, 3], width=8, batch=4, out=path, progress=False).rows
    failed = dict(done[0], depth=4, status="failed", error="Traceback:\nValueError: boom", final_h_std=math.nan)
    j = journal.Journal(str(path), True)
    j.append([failed])
    j.close()
    text = path.read_bytes()
    cut = text.index(b"Traceback:\n") + len(b"Traceback:\n")
    path.write_bytes(text[:cut])   # killed just after the newline inside the quoted field
    rows, complete = journal.read_rows(str(path))
    assert len(rows) == 2 and complete == text.rindex(b"\n", 0, text.index(b"Traceback")) + 1   # where it starts
    res = fi.sweep(depth=[2, 3, 4], width=8, batch=4, out=path, progress=False)
    assert len(res) == 3 and [r["status"] for r in res.rows] == ["ok"] * 3
    assert len(SW.SweepResult.from_csv(path)) == 3


def test_an_empty_out_is_refused_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="out must be a file path, got ''"):
        fi.sweep(depth=2, width=8, batch=4, out="", progress=False)
    assert list(tmp_path.iterdir()) == []   # (it left ./.lock)


def test_the_heatmap_colour_scale_reaches_the_data():
    pytest.importorskip("matplotlib")
    res = SW.sweep(depth=[2, 12], width=16, activation="tanh", init=["small_normal", "xavier_normal"], batch=32,
                   progress=False)
    fig = res.plot()
    norm = fig.axes[0].images[0].norm
    smallest = min(np.log10(r["final_h_std"]) for r in res.rows if r["final_h_std"] > 0)
    assert smallest < -4 and norm.vmin == pytest.approx(smallest)   # a fixed [-4, 4] made such panels one colour
    assert fig._suptitle is not None
    # two heatmaps in two columns (three left an empty slot), then the colour bar's column
    assert fig.axes[0].get_subplotspec().get_gridspec().ncols == 2 + 1


def test_the_heatmap_cells_carry_their_std_and_the_curves_the_theory():
    pytest.importorskip("matplotlib")
    res = SW.sweep(depth=[2, 6], width=[8, 16], activation="relu", init="xavier_normal", batch=32, progress=False)
    fig = res.plot()
    heat, curves = fig.axes[0], fig.axes[-1]
    labels = sorted(t.get_text() for t in heat.texts)
    assert labels == sorted(f"{r['final_h_std']:.2g}" for r in res.rows)   # one seed: each cell is one row's std
    assert [t.get_rotation() for t in heat.get_xticklabels()] == [0.0, 0.0]   # two short labels need no slant
    theory = np.asarray(max(res.rows, key=lambda r: r["depth"])["theory_h_std_layers"])
    bands = [ln for ln in curves.get_lines() if ln.get_linewidth() >= 5]
    assert len(bands) == 1   # the theory has no width: one band for the two widths
    assert np.allclose(bands[0].get_ydata(), theory) and "mean-field theory" in [
        t.get_text() for t in curves.get_legend().get_texts()]
    many = SW.sweep(depth=list(range(2, 20)), width=8, activation="relu", init="xavier_normal", batch=8,
                    progress=False).plot()
    assert not many.axes[0].texts   # 18 depths: too many cells to write in
