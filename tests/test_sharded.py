"""Sharded init on torch.distributed (gloo, localhost): every rank fills only its shard, with the values the
unsharded tensor holds there, so the assembled model is the one-process build bit for bit, for every world size.
Each test spawns the ranks as processes (tests/dist_worker.py) with a free port and a timeout; those are marked
`slow` (`pytest -m "not slow"` leaves them out of the edit loop; CI runs them)."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

import fastinit as fi  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "dist_worker.py")
sys.path.insert(0, HERE)
import dist_worker  # noqa: E402

TIMEOUT = 240


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(case, world, tmp_path, **extra_env):
    port, out = free_port(), str(tmp_path / f"{case}_{world}.npz")
    env = dict(os.environ, OMP_NUM_THREADS="1", FASTINIT_NUM_THREADS="1", **extra_env)
    procs = [subprocess.Popen([sys.executable, WORKER, case, str(world), str(r), str(port), out], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(world)]
    outputs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=TIMEOUT)
            outputs.append((p.returncode, stdout, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for code, _stdout, stderr in outputs:
        assert code == 0, stderr[-3000:]
    return out, [o[1] for o in outputs]


def assert_same(path, expected):
    got = dict(np.load(path))
    assert got.keys() == expected.keys()
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)


@pytest.mark.parametrize("case, worlds", [("mlp_fsdp", (2, 3, 4)), ("mlp_tp", (2, 3)), ("mlp_init_module", (3,)),
                                          ("mlp_2d", (4,))])
@pytest.mark.slow
def test_mlp_sharded_equals_one_process_build(case, worlds, tmp_path):
    expected = dist_worker.build_unsharded(case)
    for world in worlds:
        path, _ = spawn(case, world, tmp_path)
        assert_same(path, expected)


@pytest.mark.parametrize("case, world", [("mlp_fsdp", 3), ("mlp_tp", 2)])
@pytest.mark.slow
def test_shards_filled_by_the_device_kernels_equal_one_process_build(case, world, tmp_path):
    # the Triton kernels (the interpreter standing in for CUDA) serve every shard: the numbers of the host build
    pytest.importorskip("triton")
    expected = dist_worker.build_unsharded(case)
    path, outs = spawn(case, world, tmp_path, FASTINIT_TEST_DEVICE_KERNELS="1")
    assert all(int(o.split("device_fills=")[1]) > 0 for o in outs), outs
    assert_same(path, expected)


@pytest.mark.parametrize("case", ["llama_fsdp", "llama_tp"])
@pytest.mark.slow
def test_llama_equals_one_process_build(case, tmp_path):
    pytest.importorskip("transformers")
    expected = dist_worker.build_unsharded(case)
    for world in (2, 3):
        path, _ = spawn(case, world, tmp_path)
        assert_same(path, expected)


@pytest.mark.slow
def test_partial_placement_is_refused_before_writing(tmp_path):
    _, outs = spawn("partial", 2, tmp_path)
    for out in outs:
        assert "ValueError: tensor: fastinit fills DTensors placed as Shard or Replicate, not P" in out
        assert "untouched=True" in out


@pytest.mark.slow
def test_ranks_that_disagree_are_detected(tmp_path):
    _, outs = spawn("disagree", 2, tmp_path)
    assert all("RuntimeError: ranks disagree on the fastinit stream" in out for out in outs)


@pytest.mark.slow
def test_fastinit_init_inside_the_context_draws_from_its_generator(tmp_path):
    """It drew from each rank's default generator (seeded from OS entropy): orthogonal_ on a Shard(0) DTensor made
    a matrix 0.79 away from orthogonal while check_ranks_agree passed."""
    _, outs = spawn("orthogonal_in_context", 2, tmp_path)
    for out in outs:
        assert float(out.split("orthogonality=")[1].split()[0]) < 1e-5, out


@pytest.mark.slow
def test_non_contiguous_shards_are_filled(tmp_path):
    """They failed with 'row_offsets needs a C-contiguous out', an argument the caller never passed."""
    _, outs = spawn("noncontiguous_shards", 2, tmp_path)
    assert all("same=[True, True]" in out for out in outs), outs


def test_row_pieces_of_every_placement_without_processes():
    """The offsets a shard's pieces are drawn at, for shards along every dimension (the arithmetic the ranks
    use), against slices of one fill: a column shard is one C call over its row pieces."""
    g = fi.Generator(3)
    whole = g.normal((6, 10, 7), stream=0)
    for block in ((slice(2, 4), slice(0, 10), slice(0, 7)), (slice(0, 6), slice(3, 8), slice(0, 7)),
                  (slice(1, 5), slice(2, 9), slice(1, 6))):
        shape = tuple(s.stop - s.start for s in block)
        strides = (70, 7, 1)
        starts = np.add.outer(np.add.outer(np.arange(block[0].start, block[0].stop) * 70,
                                           np.arange(block[1].start, block[1].stop) * 7),
                              [block[2].start]).reshape(-1).astype(np.uint64)
        out = np.empty(shape, np.float32)
        g.normal(out=out, stream=0, row_offsets=starts)
        np.testing.assert_array_equal(out, whole[block])
        del strides
