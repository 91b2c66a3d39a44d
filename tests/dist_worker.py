"""One rank of the sharded-init tests (tests/test_sharded.py): python tests/dist_worker.py CASE WORLD RANK PORT OUT.

Builds a model on the meta device, shards it (FSDP2 fully_shard, a tensor-parallel plan, or both on a 2-D mesh),
gives it storage, initializes it through fastinit, and rank 0 writes every parameter's full_tensor() to OUT (.npz).
The same builders run unsharded in the test process: the two must agree bit for bit.
"""
import datetime
import os
import sys
import traceback

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

import fastinit as fi
from fastinit.torch import check_ranks_agree

SEED = 7

# FASTINIT_TEST_DEVICE_KERNELS=1: the device kernels (in Triton's interpreter) serve the CPU shards, as they serve
# CUDA shards, and each rank says how many fills took that path
DEVICE_FILLS = [0]
if os.environ.get("FASTINIT_TEST_DEVICE_KERNELS"):
    from fastinit.random import _backends as backends, _triton as device_kernels

    backends._INTERPRETER_SERVES_CPU = True
    _device_fill = device_kernels.fill

    def _counted_fill(spec, out):
        DEVICE_FILLS[0] += 1
        return _device_fill(spec, out)

    device_kernels.fill = _counted_fill


def mlp():
    # 17 rows: uneven shards on 2, 3 and 4 ranks
    return nn.Sequential(nn.Linear(24, 40), nn.ReLU(), nn.Linear(40, 17), nn.Tanh(), nn.Linear(17, 8))


def llama():
    import transformers

    cfg = transformers.LlamaConfig(vocab_size=96, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    return transformers.LlamaForCausalLM(cfg)


def init_mlp(model):
    """What a training script does after to_empty: every module's own reset, through fastinit."""
    with fi.fast_init(seed=SEED):
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
        # a whole-tensor initializer, materialized on every rank (torch's own orthogonal_ cannot run on DTensors)
        fi.init.orthogonal_(model[4].weight, generator=fi.torch.active().generator)
        nn.init.trunc_normal_(model[2].weight, std=0.1, a=-0.15, b=0.15)
        check_ranks_agree() if dist.is_initialized() else None


def init_llama(model):
    with fi.fast_init(seed=SEED):
        model.initialize_weights()
        check_ranks_agree() if dist.is_initialized() else None


def build_unsharded(case):
    if case.startswith("llama"):   # the same flow as the sharded build, without the sharding
        with torch.device("meta"):
            model = llama()
        model.to_empty(device="cpu")
        init_llama(model)
        return {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()
                if not k.endswith("inv_freq")}
    model = mlp()
    if case == "mlp_init_module":
        fi.init.init_module(model, generator=fi.Generator(SEED))
    else:
        init_mlp(model)
    return {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()
            if not k.endswith("inv_freq")}


def build_sharded(case, world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    with torch.device("meta"):
        model = llama() if case.startswith("llama") else mlp()
    if case in ("mlp_fsdp", "mlp_init_module"):
        mesh = init_device_mesh("cpu", (world,))
        for layer in (model[0], model[2], model[4]):
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    elif case == "mlp_tp":
        mesh = init_device_mesh("cpu", (world,))
        parallelize_module(model, mesh, {"0": ColwiseParallel(), "2": RowwiseParallel(), "4": ColwiseParallel()})
    elif case == "mlp_2d":
        mesh = init_device_mesh("cpu", (2, world // 2), mesh_dim_names=("dp", "tp"))
        parallelize_module(model, mesh["tp"], {"0": ColwiseParallel(), "2": RowwiseParallel()})
        fully_shard(model, mesh=mesh["dp"])
    elif case == "llama_fsdp":
        mesh = init_device_mesh("cpu", (world,))
        for layer in model.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    elif case == "llama_tp":   # Megatron-style: projections in by column, out by row
        mesh = init_device_mesh("cpu", (world,))
        plan = {f"self_attn.{p}_proj": ColwiseParallel() for p in "qkv"}
        plan.update({"self_attn.o_proj": RowwiseParallel(), "mlp.gate_proj": ColwiseParallel(),
                     "mlp.up_proj": ColwiseParallel(), "mlp.down_proj": RowwiseParallel()})
        for layer in model.model.layers:
            parallelize_module(layer, mesh, plan)
    else:
        raise SystemExit(f"unknown case {case}")
    model.to_empty(device="cpu")
    if case.startswith("llama"):
        init_llama(model)
    elif case == "mlp_init_module":
        fi.init.init_module(model, generator=fi.Generator(SEED))
    else:
        init_mlp(model)
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("inv_freq"):
            continue
        full = v.full_tensor() if hasattr(v, "full_tensor") else v
        out[k] = full.detach().float().numpy().copy()
    return out


def main():
    case, world, rank, port, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    try:
        if case == "partial":
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.tensor import DTensor, Partial

            mesh = init_device_mesh("cpu", (world,))
            t = DTensor.from_local(torch.full((4, 3), 5.0), mesh, [Partial()])
            try:
                fi.init.normal_(t)
                print("no error")
            except ValueError as exc:
                same = bool(torch.all(t.to_local() == 5.0))
                print(f"ValueError: {exc} | untouched={same}")
        elif case == "orthogonal_in_context":
            # fastinit's own initializer inside the context, without generator=: the context's generator (the
            # same seed on every rank), so the shards make one orthogonal matrix
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.tensor import Shard, distribute_tensor

            mesh = init_device_mesh("cpu", (world,))
            w = distribute_tensor(torch.empty(8, 6), mesh, [Shard(0)])
            with fi.fast_init(seed=SEED):
                fi.init.orthogonal_(w)
                check_ranks_agree()
            full = w.full_tensor().double()
            print(f"orthogonality={float((full.T @ full - torch.eye(6, dtype=torch.float64)).abs().max()):.3g}")
        elif case == "noncontiguous_shards":
            # shards whose local tensor is not contiguous: a transposed DTensor and a Shard(1) made from a strided
            # local tensor, against one fill of the whole tensor
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.tensor import DTensor, Shard, distribute_tensor

            mesh = init_device_mesh("cpu", (world,))
            transposed = distribute_tensor(torch.empty(6, 10), mesh, [Shard(0)]).T
            strided = DTensor.from_local(torch.empty(5, 6).T, mesh, [Shard(1)])
            same = []
            for t in (transposed, strided):
                assert not t.to_local().is_contiguous()
                fi.init.normal_(t, generator=fi.Generator(SEED))
                whole = torch.from_numpy(fi.Generator(SEED).normal(tuple(t.shape)))
                same.append(bool(torch.equal(t.full_tensor(), whole)))
            print(f"same={same}")
        elif case == "disagree":
            g = fi.Generator(SEED + rank)   # a rank seeded differently
            try:
                check_ranks_agree(g)
                print("agreed")
            except RuntimeError as exc:
                print(f"RuntimeError: {exc}")
        else:
            result = build_sharded(case, world)
            if rank == 0:
                np.savez(path, **result)
            print(f"done device_fills={DEVICE_FILLS[0]}")
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    dist.barrier()
    sys.stdout.flush()
    sys.stderr.flush()
    # gloo's threads sometimes abort in the interpreter's teardown ("terminate called without an active
    # exception"): every result is written and every rank past the barrier, so leave without it
    os._exit(0)


if __name__ == "__main__":
    main()
