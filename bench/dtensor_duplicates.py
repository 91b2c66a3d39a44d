"""torch's own init of a sharded tensor on CPU ranks, beside fastinit's: an 8 x 6 DTensor sharded by rows over 2 gloo
ranks, filled with torch.nn.init.normal_ after torch.manual_seed(0) on every rank, then under fi.fast_init(seed=0).

    python bench/dtensor_duplicates.py
"""
import datetime
import os
import socket
import subprocess
import sys


def rank_main(rank, port):
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    import fastinit as fi

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    mesh = init_device_mesh("cpu", (2,))
    torch.set_printoptions(precision=3, sci_mode=False, linewidth=120)
    w = distribute_tensor(torch.zeros(8, 6), mesh, [Shard(0)])
    torch.manual_seed(0)
    torch.nn.init.normal_(w)
    torch_full = w.full_tensor()
    with fi.fast_init(seed=0):
        torch.nn.init.normal_(w)
    fast_full = w.full_tensor()
    if rank == 0:
        print("torch.nn.init.normal_ after torch.manual_seed(0) on both ranks (rows 4-7 are rank 1's shard):")
        print(torch_full)
        print(f"rows 4-7 repeat rows 0-3: {bool(torch.equal(torch_full[4:], torch_full[:4]))}")
        print("\nthe same call under fi.fast_init(seed=0):")
        print(fast_full)
        whole = torch.from_numpy(fi.Generator(0).normal((8, 6)))
        print(f"rows 4-7 repeat rows 0-3: {bool(torch.equal(fast_full[4:], fast_full[:4]))}; equal to the "
              f"unsharded draw fi.Generator(0).normal((8, 6)): {bool(torch.equal(fast_full, whole))}")
    dist.barrier()
    sys.stdout.flush()
    os._exit(0)


def main():
    if len(sys.argv) == 3:
        return rank_main(int(sys.argv[1]), int(sys.argv[2]))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, __file__, str(r), str(port)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1")) for r in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    print(outs[0], end="")


if __name__ == "__main__":
    main()
