"""One rank of tests/test_monitor_distributed.py, started by torchrun: a small MLP under DDP or FSDP2
(fully_shard: DTensor parameters), trained 3 steps on this rank's own batches under fi.monitor(out=...). Beside
the monitor it saves what an independent computation gives: each parameter's whole norm and update ratio (from
full tensors) and this rank's module outputs."""
import json
import sys

import torch
import torch.distributed as dist
from torch import nn

import fastinit as fi

mode, out, ref_dir = sys.argv[1], sys.argv[2], sys.argv[3]
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4))
if mode == "ddp":
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(model)
    inner = model.module
else:
    from torch.distributed.fsdp import fully_shard

    for block in (model[0], model[2]):
        fully_shard(block)
    fully_shard(model)
    inner = model
opt = torch.optim.SGD(model.parameters(), lr=0.1)


def whole(p):
    return (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().double().clone()


outputs = {}
inner[2].register_forward_hook(lambda m, a, o: outputs.update({len(outputs): o.detach().double().abs().max().item()}))
reference = {"w_norm": [], "update_ratio": [], "out_max": []}
g = torch.Generator().manual_seed(100 + rank)   # each rank its own batches
with fi.monitor(model, every=1, out=out) as mon:
    for _ in range(3):
        x = torch.randn(16, 8, generator=g)
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        before = {n: whole(p) for n, p in model.named_parameters()}
        opt.step()
        after = {n: whole(p) for n, p in model.named_parameters()}
        reference["w_norm"].append({n: float(before[n].norm()) for n in before})
        reference["update_ratio"].append({n: float((after[n] - before[n]).norm() / before[n].norm()) for n in before})
assert mon.rank == rank and mon.world_size == 2
reference["out_max"] = [outputs[i] for i in range(3)]
reference["local_numel"] = {n: (p.to_local() if hasattr(p, "to_local") else p).numel()
                            for n, p in model.named_parameters()}
with open(f"{ref_dir}/ref{rank}.json", "w") as f:
    json.dump(reference, f)
dist.destroy_process_group()
