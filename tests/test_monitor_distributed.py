"""fi.monitor under torch.distributed, on 2 gloo ranks started by torchrun: DDP and FSDP2 (DTensor parameters).
Parameter norms and update ratios are the whole parameter's (checked against full tensors), activation rows are
each rank's own with its rank, and out= writes one file per rank that MonitorResult.read puts together."""
import json
import os
import socket
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import fastinit as fi  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "fsdp2"])
def test_two_ranks_reduce_parameter_norms_and_keep_their_own_activations(tmp_path, mode):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "run.csv"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master-addr",
                          "127.0.0.1", "--master-port", str(port), os.path.join(HERE, "monitor_dist_worker.py"),
                          mode, str(out), str(tmp_path)],
                         capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert not out.exists() and (tmp_path / "run.rank0.csv").exists() and (tmp_path / "run.rank1.csv").exists()
    res = fi.MonitorResult.read(out)
    assert sorted({r["rank"] for r in res.rows}) == [0, 1] and sorted({p["rank"] for p in res.params}) == [0, 1]
    for rank in (0, 1):
        ref = json.loads((tmp_path / f"ref{rank}.json").read_text())
        for step in range(3):
            for p in (p for p in res.params if p["rank"] == rank and p["step"] == step):
                name = p["name"]
                assert p["w_norm"] == pytest.approx(ref["w_norm"][step][name], rel=1e-9)
                assert p["update_ratio"] == pytest.approx(ref["update_ratio"][step][name], rel=1e-5)
            [row] = [r for r in res.rows if r["rank"] == rank and r["step"] == step and r["name"].endswith("2")]
            assert max(abs(row["min"]), abs(row["max"])) == pytest.approx(ref["out_max"][step], rel=1e-6)
        if mode == "fsdp2":   # the parameters were shards: the norms above are not the local ones
            assert all(n < p for n, p in zip(ref["local_numel"].values(), (16 * 8, 16, 4 * 16, 4)))
    # the ranks saw different batches: their activations differ, their (whole) parameter norms agree
    def at(rank, kind):
        rows = res.rows if kind == "rows" else res.params
        return [r for r in rows if r["rank"] == rank and r["step"] == 2]
    assert [r["std"] for r in at(0, "rows")] != [r["std"] for r in at(1, "rows")]
    assert [p["w_norm"] for p in at(0, "params")] == pytest.approx([p["w_norm"] for p in at(1, "params")], rel=1e-12)
