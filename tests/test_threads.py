"""Threads: the default follows the conventions a process already has (OMP_NUM_THREADS, affinity, cgroup quota),
and a forked child of a process that ran parallel fills works (serially) instead of hanging in OpenMP."""
import os
import subprocess
import sys
import textwrap

import pytest

import fastinit as fi

TIMEOUT = 120   # a hang is the failure these tests look for: every child is bounded


def run(code, env=None, **kw):
    env = {k: v for k, v in dict(os.environ, **(env or {})).items() if v is not None}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, **kw)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "FASTINIT_NUM_THREADS")}
    env.update(extra)
    return env


def threads_with(env):
    out = subprocess.run([sys.executable, "-c", "import fastinit as fi; print(fi.get_num_threads())"], env=env,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


def test_omp_num_threads_is_respected_and_fastinit_num_threads_wins():
    assert threads_with(clean_env(OMP_NUM_THREADS="1")) == 1
    assert threads_with(clean_env(OMP_NUM_THREADS="3,2")) == 3            # a nested list: its first level
    assert threads_with(clean_env(OMP_NUM_THREADS="1", FASTINIT_NUM_THREADS="2")) == 2
    assert threads_with(clean_env(OMP_NUM_THREADS="nonsense")) == len(os.sched_getaffinity(0))


def test_bad_fastinit_num_threads_names_it():
    out = run("import fastinit", env=clean_env(FASTINIT_NUM_THREADS="99999999999"))
    assert out.returncode == 1 and "FASTINIT_NUM_THREADS must be an integer in [1, 1024]" in out.stderr
    assert "Traceback" in out.stderr and "OverflowError" not in out.stderr


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_affinity_is_respected():
    out = run("""
        import os
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        import fastinit as fi
        print(fi.get_num_threads())
        """, env=clean_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_set_num_threads_is_bounded():
    before = fi.get_num_threads()
    try:
        with pytest.raises(ValueError, match="n must be at most 1024"):
            fi.set_num_threads(2**31)
        fi.set_num_threads(3)
        assert fi.get_num_threads() == 3
    finally:
        fi.set_num_threads(before)


FORK_PARENT = """
    import os, sys, numpy as np, fastinit as fi
    fi.set_num_threads(2)
    expected = fi.Generator(1).normal(1 << 20)          # a parallel fill in the parent
    sim = fi.simulate(depth=3, width=256, batch=512, seed=2).layers["h_std"]
    """


@pytest.mark.parametrize("how", ["os.fork", "multiprocessing", "ProcessPoolExecutor"])
def test_forked_child_after_parallel_fills(how):
    body = {
        "os.fork": """
            pid = os.fork()
            if pid == 0:
                ok = np.array_equal(fi.Generator(1).normal(1 << 20), expected)
                ok &= np.array_equal(fi.simulate(depth=3, width=256, batch=512, seed=2).layers["h_std"], sim)
                os._exit(0 if ok and fi.get_num_threads() == 1 else 3)
            print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
            """,
        "multiprocessing": """
            import multiprocessing as mp
            def work(seed):
                return fi.Generator(seed).normal(1 << 20)
            with mp.get_context("fork").Pool(2) as pool:
                got = pool.map(work, [1, 1])
            print(0 if all(np.array_equal(g, expected) for g in got) else 3)
            """,
        "ProcessPoolExecutor": """
            import concurrent.futures as cf, multiprocessing as mp
            def work(seed):
                return fi.Generator(seed).normal(1 << 20)
            with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
                got = list(ex.map(work, [1, 1]))
            print(0 if all(np.array_equal(g, expected) for g in got) else 3)
            """,
    }[how]
    out = run(textwrap.dedent(FORK_PARENT) + textwrap.dedent(body), env=clean_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0", out.stdout + out.stderr


def test_dataloader_workers_after_parallel_fills():
    pytest.importorskip("torch")
    out = run(textwrap.dedent(FORK_PARENT) + textwrap.dedent("""
        import torch
        class Draws(torch.utils.data.Dataset):
            def __len__(self):
                return 4
            def __getitem__(self, i):
                return torch.from_numpy(fi.Generator(1).normal(1 << 16))
        loader = torch.utils.data.DataLoader(Draws(), batch_size=2, num_workers=2,
                                             multiprocessing_context="fork")
        batches = list(loader)
        print(0 if all(torch.equal(b[0], torch.from_numpy(expected[:1 << 16])) for b in batches) else 3)
        """), env=clean_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0", out.stdout + out.stderr


def test_forked_child_cannot_raise_its_thread_count():
    out = run(textwrap.dedent(FORK_PARENT) + textwrap.dedent("""
        import warnings
        pid = os.fork()
        if pid == 0:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                fi.set_num_threads(2)
            os._exit(0 if fi.get_num_threads() == 1 and any("serially" in str(x.message) for x in w) else 3)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        """), env=clean_env())
    assert out.stdout.strip().splitlines()[-1] == "0", out.stdout + out.stderr
