"""fi.probe's cost on a ResNet-50-shaped transformers.ResNetModel (default ResNetConfig), batch 16, 224x224, float32:
the plain forward pass against the probed one (every leaf module's output: statistics and a 50-bin histogram), and
the statistics alone, fastinit's C kernels against the same statistics with torch ops (mean, std, min, max, zero
count, histc per output), on the outputs of one forward pass. Medians, alternating.

    python bench/probe_overhead.py [--rounds 5] [--batch 16]
"""
import argparse
import statistics
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    import torch
    import transformers

    import fastinit as fi
    from fastinit.experiment import _probe as P

    torch.manual_seed(0)
    model = transformers.ResNetModel(transformers.ResNetConfig()).eval()
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.no_grad():
        model(x)   # warm
    fi.probe(model, x)
    plain, probed = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        with torch.no_grad():
            model(x)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = fi.probe(model, x)
        probed.append(time.perf_counter() - t0)
    values = sum(int(torch.Size(r["shape"]).numel()) for r in res.rows)
    f, p = statistics.median(plain), statistics.median(probed)
    print(f"ResNetModel batch {args.batch}: {len(res.rows)} module outputs, {values / 1e6:.0f}e6 values")
    print(f"forward {f:.3f} s, probed forward {p:.3f} s: {p / f:.2f}x the plain forward (medians of {args.rounds})")

    outputs = []
    hooks = [m.register_forward_hook(lambda mod, a, out: outputs.append(out.detach()))
             for _, m in P._default_modules(model)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()

    def ours():
        for t in outputs:
            P._stats_c(t, 0, 50, None)

    def torch_ops():
        for t in outputs:
            v = t.reshape(-1)
            mn, mx = v.min(), v.max()
            (v.mean(), v.std(), (v == 0).sum(), torch.isfinite(v).all(), torch.histc(v, 50, float(mn), float(mx)))

    mine, theirs = [], []
    ours()
    torch_ops()
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        ours()
        mine.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        torch_ops()
        theirs.append(time.perf_counter() - t0)
    a, b = statistics.median(mine), statistics.median(theirs)
    print(f"statistics of the {len(outputs)} outputs: fastinit's kernels {a:.3f} s, torch ops {b:.3f} s: torch / "
          f"fastinit = {b / a:.2f}x")


if __name__ == "__main__":
    main()
