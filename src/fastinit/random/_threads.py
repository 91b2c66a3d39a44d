"""Process-wide settings of the C core seen from Python: the thread count (its default from the environment, the
affinity mask and the cgroup quota), the fork rule, and the single-threaded pinning that sweeps run under.

Results never depend on any of it: every fill and fused pass gives the same numbers on any thread count.
"""
import contextlib
import math
import os
import threading
import warnings

from .. import _core, _validate as V

__all__ = ["MAX_THREADS", "set_num_threads", "get_num_threads", "default_num_threads", "single_threaded",
           "pin_process", "available_cpus"]

# More threads than this is a mistake (libgomp exits the process when it cannot create them), not a setting.
MAX_THREADS = 1024


def set_num_threads(n):
    """Threads the C fills and the simulation's fused passes use (OpenMP). Results do not depend on it.

    n in [1, MAX_THREADS]. In a process forked after fastinit ran parallel work (multiprocessing's fork start
    method, a DataLoader worker) fastinit stays serial: OpenMP's threads do not survive a fork, and waiting for
    them would hang. Such a child warns and keeps 1 thread; the numbers are the same."""
    n = V.positive_int(n, "n")
    if n > MAX_THREADS:
        raise ValueError(f"n must be at most {MAX_THREADS} threads, got {n}")
    if n > 1 and _core.fork_serial():
        warnings.warn("fastinit runs serially in a process forked after its parallel fills (OpenMP threads do not "
                      "survive a fork); set_num_threads is ignored here", RuntimeWarning, stacklevel=2)
    _core.set_num_threads(n)


def get_num_threads():
    """Threads the C fills use (see ``default_num_threads`` for the default)."""
    return _core.get_num_threads()


def _env_threads(name):
    """A thread count from an environment variable (OMP_NUM_THREADS may be a list: its first entry), or None."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    first = text.split(",")[0].strip()
    try:
        n = int(first)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {text!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{name} must be an integer in [1, {MAX_THREADS}], got {text!r}")
    return n


def _cgroup_cpus():
    """CPUs the cgroup (v2 cpu.max, v1 cfs quota) lets this process use, rounded up, or None without a quota."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus():
    """The CPUs this process may run on (its affinity mask; os.cpu_count where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_num_threads():
    """The thread count fastinit starts with, from the conventions a process already follows, first found:
    $FASTINIT_NUM_THREADS; $OMP_NUM_THREADS (torchrun sets 1 per rank); else the CPUs this process may run on
    (its affinity mask, ``os.sched_getaffinity``) capped by its cgroup's CPU quota. ``set_num_threads`` overrides
    all of them at run time."""
    n = _env_threads("FASTINIT_NUM_THREADS")
    if n is not None:
        return n
    try:
        n = _env_threads("OMP_NUM_THREADS")
    except ValueError as exc:   # not ours to refuse: other libraries read it too
        warnings.warn(f"{exc}; fastinit ignores it", RuntimeWarning, stacklevel=2)
        n = None
    if n is not None:
        return n
    cpus = available_cpus()
    quota = _cgroup_cpus()
    return max(1, min(cpus, quota) if quota else cpus)


# ------------------------------------------------------------------------------------------ pinning
# Sweeps run every configuration with one BLAS and one fastinit thread (parallel across configurations): OpenBLAS
# rounds a product differently with a different thread count, and a row must not depend on where or beside what it
# ran. One mechanism, counted: the first holder pins, the last to leave restores what was set before the first.
_pin_lock = threading.Lock()
_pin = {"count": 0, "limiter": None, "threads": None, "process": False}


def _pin_enter():
    from threadpoolctl import threadpool_limits

    with _pin_lock:
        if _pin["count"] == 0:
            _pin["threads"] = get_num_threads()
            _core.load_scipy_blas()   # threadpoolctl only sees the BLAS once it is loaded
            _pin["limiter"] = threadpool_limits(limits=1, user_api="blas")
            set_num_threads(1)
        _pin["count"] += 1


def _pin_exit():
    with _pin_lock:
        _pin["count"] -= 1
        if _pin["count"] == 0:
            _pin["limiter"].restore_original_limits()
            set_num_threads(_pin["threads"])


@contextlib.contextmanager
def single_threaded():
    """One BLAS and one fastinit thread in this process while the block runs. Blocks running at once (sweeps in
    several threads) share it: none restores the settings under another's feet."""
    _pin_enter()
    try:
        yield
    finally:
        _pin_exit()


def pin_process():
    """``single_threaded`` for the rest of this process, once (an executor's worker process that runs sweep
    configurations: its settings are left so)."""
    with _pin_lock:
        if _pin["process"]:
            return
        _pin["process"] = True
    _pin_enter()


_core.set_num_threads(min(default_num_threads(), MAX_THREADS))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core.after_fork_child)
