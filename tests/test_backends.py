"""The C-core backend (fastinit.random._backends -> _core.fill): long fills go in pieces of about _core.PIECE draws
with a signal check between them (Ctrl-C takes effect), and the pieces give the numbers of one fill."""
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit as fi
from fastinit import _core

# Prepended to each Ctrl-C script: the signal comes once the first piece is in the output. A fixed delay came
# before any piece on a slow host (nothing written, so nothing to compare).
CTRL_C_ONCE_WRITTEN = textwrap.dedent("""
    import os, signal, time
    killed_at = []
    def ctrl_c_once_written(out):
        while out[0] == 0:
            time.sleep(0.001)
        killed_at.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)
    """)


def test_a_long_fill_stops_on_ctrl_c():
    """2**31 float32 normals took 3 s and 2**30 float64 truncated normals on [3, 8] 84 s before Ctrl-C took
    effect; a fill now checks for signals between pieces of 2**22 draws."""
    code = CTRL_C_ONCE_WRITTEN + textwrap.dedent("""
        import os, signal, threading, time, numpy as np, fastinit as fi
        out = np.zeros(1 << 30, np.float64)
        threading.Thread(target=ctrl_c_once_written, args=(out,), daemon=True).start()
        try:
            fi.Generator(0).truncated_normal(out=out, low=3, high=8)
        except KeyboardInterrupt:
            n = int(np.count_nonzero(out))
            whole = fi.Generator(0).truncated_normal(n, low=3, high=8, dtype=np.float64)
            print(round(time.perf_counter() - killed_at[0], 2), n, n % (1 << 22), np.array_equal(out[:n], whole))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=200,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seconds, written, rest, same = out.stdout.split()
    assert float(seconds) < 10 and 0 < int(written) < 1 << 30 and rest == "0" and same == "True", out.stderr


def test_pieces_give_the_numbers_of_one_fill():
    n = _core.PIECE * 2 + 1000
    g = fi.Generator(3)
    whole = g.normal(n, stream=0, offset=5)
    tail = g.normal(3000, stream=0, offset=5 + n - 3000)
    np.testing.assert_array_equal(whole[-3000:], tail)


def test_a_long_row_fill_stops_on_ctrl_c():
    """A shard made of row pieces (row_offsets) was one C call: 2**30 float64 truncated normals on [3, 8] in rows
    of 2**20 ran to the end (84 s) before Ctrl-C took effect; row fills now go in pieces of about 2**22 draws."""
    code = CTRL_C_ONCE_WRITTEN + textwrap.dedent("""
        import os, signal, threading, time, numpy as np, fastinit as fi
        row = 1 << 20
        out = np.zeros(1 << 30, np.float64)
        offsets = np.arange(1 << 10, dtype=np.uint64) * np.uint64(row + 3) + np.uint64(5)
        threading.Thread(target=ctrl_c_once_written, args=(out,), daemon=True).start()
        try:
            fi.Generator(0).truncated_normal(out=out, low=3, high=8, stream=0, row_offsets=offsets)
        except KeyboardInterrupt:
            n = int(np.count_nonzero(out))
            first = fi.Generator(0).truncated_normal(row, low=3, high=8, dtype=np.float64, stream=0, offset=5)
            print(round(time.perf_counter() - killed_at[0], 2), n, n % row, np.array_equal(out[:row], first))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=200,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seconds, written, rest, same = out.stdout.split()
    assert float(seconds) < 10 and 0 < int(written) < 1 << 30 and rest == "0" and same == "True", out.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "bfloat16"])
def test_row_fills_in_pieces_give_the_numbers_of_each_row(dtype):
    """Rows longer than a piece (each filled in pieces) and many short rows (several calls of whole rows)."""
    g = fi.Generator(5)
    for row_len, rows in ((_core.PIECE + 37, 2), (1000, 2 * (_core.PIECE // 1000) + 5)):
        offsets = np.arange(rows, dtype=np.uint64) * np.uint64(row_len + 3) + np.uint64(11)
        out = np.empty((rows, row_len), np.uint16 if dtype == "bfloat16" else dtype)
        g.normal(out=out, dtype=dtype if dtype == "bfloat16" else None, stream=0, row_offsets=offsets)
        for r in (0, 1, rows // 2, rows - 1):
            one = g.normal(row_len, dtype=dtype, stream=0, offset=int(offsets[r]))
            np.testing.assert_array_equal(out[r], one)


def test_ctrl_c_during_a_strided_fill_leaves_the_pieces_drawn():
    """Through a strided out nothing was written (the pieces were drawn into a temporary that was dropped); the
    README says the pieces drawn are left in out and the rest as it was. A strided out goes through a copy (its
    flatten and write-back took 7 of 8 s on a slow host, and a fixed 1 s signal came before any piece), so the signal
    comes 2.5 pieces' time after the fill of the copy starts, the piece timed here."""
    code = textwrap.dedent("""
        import os, signal, threading, time, numpy as np, fastinit as fi
        from fastinit.random import _backends as backends
        piece_seconds = []
        for _ in range(2):
            t0 = time.perf_counter()
            fi.Generator(1).truncated_normal(1 << 22, low=3, high=8, dtype=np.float64)
            piece_seconds.append(time.perf_counter() - t0)
        fill = backends.fill
        def fill_then_ctrl_c(spec, flat):          # once: the draws to compare with go unpatched
            backends.fill = fill
            kill = lambda: os.kill(os.getpid(), signal.SIGINT)
            threading.Timer(2.5 * min(piece_seconds), kill).start()
            return fill(spec, flat)
        backends.fill = fill_then_ctrl_c
        base = np.zeros((1 << 25, 2), np.float64)
        out = base[:, 0]                               # every other element: strided, 8 pieces
        try:
            fi.Generator(0).truncated_normal(out=out, low=3, high=8)
        except KeyboardInterrupt:
            n = int(np.count_nonzero(out))
            first = fi.Generator(0).truncated_normal(n, low=3, high=8, dtype=np.float64)
            print(n, n % (1 << 22), np.array_equal(out[:n], first), not out[n:].any(), not base[:, 1].any())
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=200,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    written, rest, same, untouched, other = out.stdout.split()
    assert 0 < int(written) < 1 << 25 and rest == "0", out.stderr
    assert same == untouched == other == "True", out.stdout


def test_ctrl_c_during_a_torch_fill_moves_its_version_counter():
    """A tensor left partly written by Ctrl-C kept its version counter: autograd could not see the change."""
    pytest.importorskip("torch")
    code = CTRL_C_ONCE_WRITTEN + textwrap.dedent("""
        import os, signal, threading, torch, fastinit as fi
        t = torch.zeros(1 << 27, dtype=torch.float64)
        before = t._version
        threading.Thread(target=ctrl_c_once_written, args=(t,), daemon=True).start()
        try:
            fi.init.trunc_normal_(t, 0.0, 1.0, 3.0, 8.0, generator=fi.Generator(0))
        except KeyboardInterrupt:
            print(int(torch.count_nonzero(t)) > 0, t._version > before)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=200,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert out.stdout.split() == ["True", "True"], out.stdout + out.stderr
