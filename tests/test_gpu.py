"""What only a GPU can show about the device kernels: CUDA tensors reach the compiled kernels and get the C core's
numbers, without a trip through host memory, in order on the tensor's current stream.

Skipped without a CUDA device (the interpreter tests in tests/test_device_kernels.py run everywhere; on a GPU they
run the compiled kernels too). `python bench/gpu_check.py` runs this file on a GPU machine."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

import fastinit as fi  # noqa: E402
from fastinit.random import _backends as backends  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_init_functions_on_cuda_reach_the_kernels_with_the_cpu_numbers(kernel_launches, dtype):
    for name, args in (("normal_", (0.0, 0.02)), ("uniform_", (-0.1, 0.1)), ("trunc_normal_", (0.0, 1.0, -2.0, 2.0)),
                       ("kaiming_uniform_", ()), ("xavier_normal_", ())):
        fn = getattr(fi.init, name)
        t = torch.empty(333, 77, dtype=dtype, device="cuda")
        version = t._version
        fn(t, *args, generator=fi.Generator(5))
        assert kernel_launches, name
        kernel_launches.clear()
        assert t._version > version
        host = fn(torch.empty(333, 77, dtype=dtype), *args, generator=fi.Generator(5))
        assert not kernel_launches   # CPU tensors: the C core
        if name in ("uniform_", "kaiming_uniform_") or dtype in (torch.float64,):
            torch.testing.assert_close(t.cpu(), host, rtol=0, atol=1e-12 if dtype == torch.float64 else 0, msg=name)
        else:
            torch.testing.assert_close(t.cpu().float(), host.float(), rtol=0,
                                       atol=2e-6 if dtype == torch.float32 else 0.008, msg=name)


def test_fast_init_builds_on_cuda_with_the_cpu_numbers(kernel_launches):
    def build(device):
        with fi.fast_init(seed=3):
            return torch.nn.Sequential(torch.nn.Linear(64, 128, device=device), torch.nn.Tanh(),
                                       torch.nn.Linear(128, 10, device=device))

    model = build("cuda")
    assert len(kernel_launches) == 4   # two weights, two biases
    host = build("cpu")
    for (name, p), q in zip(model.named_parameters(), host.parameters()):
        assert p.is_cuda
        torch.testing.assert_close(p.cpu(), q, rtol=0, atol=0, msg=name)


def test_generator_fills_a_cuda_tensor_in_place(kernel_launches):
    out = torch.empty(1000, 3, device="cuda")
    assert fi.Generator(4).uniform(out=out) is out
    assert len(kernel_launches) == 1
    np.testing.assert_array_equal(out.cpu().numpy(), fi.Generator(4).uniform((1000, 3)))


def _copies_in(fn):
    """The host-device copies torch's profiler records while fn() runs (after a warm-up call that compiles)."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    names = [e.name for e in prof.events()]
    return [n for n in names if "memcpy" in n.lower() or n in ("aten::copy_", "aten::_to_copy", "aten::to")], names


def test_a_fill_makes_no_host_round_trip():
    t = torch.empty(1 << 20, device="cuda")
    copies, names = _copies_in(lambda: fi.init.trunc_normal_(t, std=0.02, generator=fi.Generator(1)))
    assert copies == [], copies
    # the profiler does see the kernel (so an empty list of copies means something)
    assert any("_fill" in n for n in names), sorted(set(names))[:40]


def test_the_host_path_would_show_up_as_a_copy(monkeypatch):
    # the same measurement with the device kernels switched off: the host fill and its copy are recorded
    monkeypatch.setattr(backends, "serves", lambda tensor: False)
    t = torch.empty(1 << 16, device="cuda")
    copies, _ = _copies_in(lambda: fi.init.normal_(t, generator=fi.Generator(1)))
    assert copies


def test_the_fill_is_ordered_on_the_current_stream():
    # on a side stream: a long sleep, then zero_, then the fill. Had the fill gone to another stream it would run
    # during the sleep, before zero_, and the tensor would end up zeros.
    t = torch.empty(1 << 20, device="cuda")
    side = torch.cuda.Stream()
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        torch.cuda._sleep(200_000_000)   # cycles: a good fraction of a second
        t.zero_()
        fi.init.uniform_(t, generator=fi.Generator(8))
    assert not side.query()   # still sleeping: the host did not wait for the fill
    side.synchronize()
    np.testing.assert_array_equal(t.cpu().numpy(), fi.Generator(8).uniform(1 << 20))


def test_a_tensor_on_another_device_is_filled_there():
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")
    t = torch.empty(4096, device="cuda:1")
    fi.init.normal_(t, generator=fi.Generator(2))
    np.testing.assert_allclose(t.cpu().numpy(), fi.Generator(2).normal(4096), rtol=0, atol=2e-6)
