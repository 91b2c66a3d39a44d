"""The cost of fi.monitor on a training step: a GPT-2-shaped transformers.GPT2LMHeadModel (4 layers, n_embd 256,
sequence 128, batch 8, AdamW) on the CPU, against the same step unmonitored and against hand-written torch-op hooks
that compute the same statistics (mean, std, min, max, zero fraction and a 64-bin histc of every leaf module's
output and of its gradient) at every step. Steps alternate between the setups, so that a noisy host slows them
alike; each figure is the median step time of its setup.

    python bench/monitor_overhead.py [--steps 40]
"""
import argparse
import statistics
import time

import torch
import transformers

import fastinit as fi


def build():
    config = transformers.GPT2Config(n_layer=4, n_embd=256, n_head=4, n_positions=128, vocab_size=8192,
                                     bos_token_id=0, eos_token_id=0, loss_type="ForCausalLM")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4)


def torch_op_hooks(model):
    """What a user writes by hand: the statistics with torch ops, every step, outputs and their gradients."""
    kept = []

    def stats(t):
        t = t.detach().float()
        kept.append((t.mean().item(), t.std().item(), t.min().item(), t.max().item(), (t == 0).float().mean().item(),
                     torch.histc(t, bins=64)))

    def hook(module, args, out):
        t = out[0] if isinstance(out, tuple) else out
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            stats(t)
            if t.requires_grad:
                t.register_hook(lambda g: stats(g) and None)

    return [m.register_forward_hook(hook) for n, m in model.named_modules()
            if n and (not any(True for _ in m.children()) or "Attention" in type(m).__name__)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, 8192, (8, 128), generator=g) for _ in range(4)]
    setups = {}
    for name in ("plain", "fi.monitor every=10", "fi.monitor every=1", "torch-op hooks every step"):
        model, opt = build()
        if name.startswith("fi.monitor"):
            handle = fi.monitor(model, every=int(name.split("=")[1]), bins=64)
        elif name.startswith("torch-op"):
            handle = torch_op_hooks(model)
        else:
            handle = None
        setups[name] = (model, opt, handle, [])
    for step in range(args.steps + 3):
        for model, opt, _, times in setups.values():
            ids = batches[step % len(batches)]
            t = time.perf_counter()
            loss = model(ids, labels=ids).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step >= 3:   # (the first steps warm up the allocator and AdamW's state)
                times.append(time.perf_counter() - t)
    base = statistics.median(setups["plain"][3])
    print(f"GPT-2 4 x 256, sequence 128, batch 8, AdamW, {torch.get_num_threads()} torch threads, {args.steps} steps")
    for name, (_, _, _, times) in setups.items():
        med = statistics.median(times)
        q1, _, q3 = statistics.quantiles(times, n=4)
        print(f"  {name:28s} {med * 1e3:8.1f} ms a step (quartiles {q1 * 1e3:.1f}-{q3 * 1e3:.1f})  "
              f"{med / base:.3f}x the plain step")
    mon = statistics.median(setups["fi.monitor every=1"][3]) - base
    ops = statistics.median(setups["torch-op hooks every step"][3]) - base
    print(f"  overhead at every step: fi.monitor {mon * 1e3:.1f} ms, torch-op hooks {ops * 1e3:.1f} ms "
          f"(ratio {mon / ops:.2f})")


if __name__ == "__main__":
    main()
