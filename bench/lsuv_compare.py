"""fastinit.init.lsuv_ against the lsuv package (PyPI 0.3.0, `pip install --no-deps lsuv`) on the same models and
batch: the time of the whole init (median and range of 5 runs) and the largest |std - 1| of the layers' outputs
afterwards, measured by hooks of our own in eval mode. The models: a tanh MLP, a ReLU CNN and the GPT-2-shaped
model of bench/monitor_overhead.py (4 layers, n_embd 256, sequence 128, batch 8). On GPT-2 the package rescales
only what it knows, nn.Linear: the lm_head, whose weight is the token embedding (it orthogonalizes and rescales the
embedding); fastinit rescales the 16 Conv1D projections and leaves the tied head alone: the figures say how many
layers each one set and whether the embedding changed.

    python bench/lsuv_compare.py
"""
import statistics
import sys
import time

import torch
from torch import nn

import fastinit as fi


def mlp(depth=20, width=512):
    torch.manual_seed(0)
    layers = [m for _ in range(depth) for m in (nn.Linear(width, width), nn.Tanh())]
    return nn.Sequential(*layers, nn.Linear(width, 10)), torch.randn(512, width)


def cnn():
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 32, 3, padding=1), nn.ReLU()]
    for _ in range(7):
        layers += [nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(32 * 16 * 16, 10)), torch.randn(64, 3, 16, 16)


def gpt2():
    import transformers

    config = transformers.GPT2Config(n_layer=4, n_embd=256, n_head=4, n_positions=128, vocab_size=8192,
                                     bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    return model, torch.randint(0, 8192, (8, 128), generator=torch.Generator().manual_seed(1))


def rescaled(module):
    """The layers LSUV may set: Linear, Conv2d and transformers' Conv1D (GPT-2's projections)."""
    return isinstance(module, (nn.Linear, nn.Conv2d)) or type(module).__name__ == "Conv1D"


def worst_deviation(model, x, names):
    """The largest |std - 1| of the outputs of the named layers (those a method set)."""
    stds = []
    hooks = [m.register_forward_hook(lambda mod, a, out: stds.append(float(out.double().std())) and None)
             for n, m in model.named_modules() if n in names]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return max((abs(s - 1) for s in stds), default=float("nan"))


def main():
    try:
        import lsuv
    except ImportError:
        sys.exit("the lsuv package is not installed: pip install --no-deps lsuv")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")
    # the GPT-2 model twice: fastinit's default layers (the 16 projections), then the package's one layer
    cases = [("tanh MLP 20 x 512, batch 512", mlp, None), ("ReLU CNN 8 conv 32ch 16x16, batch 64", cnn, None),
             ("GPT-2 4 x 256, sequence 128, batch 8", gpt2, None),
             ("GPT-2, the package's layers only (fastinit: modules=['lm_head'])", gpt2, ["lm_head"])]
    for label, make, modules in cases:
        times = {"fastinit.init.lsuv_": [], "lsuv.lsuv_with_singlebatch": []}
        worst, changed, embedding_changed = {}, {}, {}
        for _ in range(5):
            for name, run in (("fastinit.init.lsuv_", lambda m, x: fi.init.lsuv_(m, x, tol=0.1, modules=modules)),
                              ("lsuv.lsuv_with_singlebatch",
                               lambda m, x: lsuv.lsuv_with_singlebatch(m, x, std_tol=0.1, verbose=False))):
                model, x = make()
                before = {n: m.weight.detach().clone() for n, m in model.named_modules() if rescaled(m)}
                emb = model.transformer.wte.weight.detach().clone() if hasattr(model, "transformer") else None
                t = time.perf_counter()
                run(model, x)
                times[name].append(time.perf_counter() - t)
                set_ = {n for n, m in model.named_modules() if rescaled(m) and not torch.equal(before[n], m.weight)}
                worst[name], changed[name] = worst_deviation(model, x, set_), len(set_)
                embedding_changed[name] = emb is not None and not torch.equal(emb, model.transformer.wte.weight)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{label}:")
        for k, v in times.items():
            print(f"  {k:28s} {med[k] * 1e3:8.1f} ms ({min(v) * 1e3:.1f}-{max(v) * 1e3:.1f}), "
                  f"largest |std - 1| after: {worst[k]:.3f}, layers set: {changed[k]}"
                  + (", token embedding changed" if embedding_changed[k] else ""))
        print(f"  ratio lsuv / fastinit: {med['lsuv.lsuv_with_singlebatch'] / med['fastinit.init.lsuv_']:.2f}x")


if __name__ == "__main__":
    main()
