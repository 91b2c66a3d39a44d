"""Where fi.monitor's rows go besides ``result``: the out= journal (CSV / Parquet, appended as steps end, kept by a
killed run, resumed), TensorBoard (read back with tensorboard's own event reader), a Hugging Face Trainer (the
callback), and mean |output| for the coordinate check."""
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import fastinit as fi  # noqa: E402
from fastinit.experiment import JournalBusy  # noqa: E402


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def train(model, opt, steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = torch.randn(32, 12, generator=g), torch.randint(0, 3, (32,), generator=g)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def same_result(a, b):
    assert len(a.rows) == len(b.rows) and len(a.params) == len(b.params)
    for ra, rb in zip(a.rows, b.rows):
        assert ra.keys() == rb.keys()
        for k in ra:
            same = (ra[k] == rb[k]) or (isinstance(ra[k], float) and math.isnan(ra[k]) and math.isnan(rb[k]))
            assert same, (k, ra[k], rb[k])
    for pa, pb in zip(a.params, b.params):
        assert {k: v for k, v in pa.items() if not (isinstance(v, float) and math.isnan(v))} == \
            {k: v for k, v in pb.items() if not (isinstance(v, float) and math.isnan(v))}
    np.testing.assert_array_equal(a.hist, b.hist)
    np.testing.assert_array_equal(a.edges, b.edges)


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_out_holds_what_result_holds_bit_for_bit(tmp_path, ext):
    if ext == "parquet":
        pytest.importorskip("pyarrow")
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    out = tmp_path / f"run.{ext}"
    with fi.monitor(model, every=2, bins=10, out=out) as mon:
        train(model, opt, 5)
    assert out.exists()
    back = fi.MonitorResult.read(out)
    same_result(mon.result, back)
    assert back.steps == [0, 2, 4] and len(back.rows) == 3 * 5 and all(r["rank"] == 0 for r in back.rows)
    assert all(not math.isnan(p["update_ratio"]) for p in back.params)


def test_each_step_is_on_disk_when_it_ends(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = tmp_path / "run.csv"
    with fi.monitor(model, every=1, out=out):
        train(model, opt, 2)
        assert fi.MonitorResult.read(out).steps == [0, 1]   # (read while the monitor still holds the file)
        with pytest.raises(JournalBusy, match="another monitor is writing"):
            fi.monitor(mlp(), out=out)


KILLED = textwrap.dedent("""
    import sys, time, torch
    from torch import nn
    import fastinit as fi
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with fi.monitor(model, every=1, out=sys.argv[1]):
        for step in range(10**6):
            loss = model(torch.randn(8, 12)).square().mean()
            opt.zero_grad(); loss.backward(); opt.step()
            if step == 3:
                print("ready", flush=True)
            time.sleep(0.01)
""")


def test_a_killed_run_keeps_what_it_recorded_and_resumes(tmp_path):
    out = tmp_path / "run.csv"
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    with open(out, "a") as f:   # a record cut mid-write, as a kill inside append leaves it
        f.write("module,9999,0,cut_record,Linear,output,8x16,0.1")
    back = fi.MonitorResult.read(out)
    steps = back.steps
    assert len(steps) >= 4 and steps == list(range(len(steps)))
    assert all(sum(r["step"] == s for r in back.rows) == 3 for s in steps)   # every step whole: 3 module outputs
    assert all(sum(p["step"] == s for p in back.params) == 4 for s in steps)
    # resumed: the earlier rows stay, the cut record goes, the steps go on after the last one
    model = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3))
    with fi.monitor(model, every=1, out=out) as mon:
        assert mon.step_index == steps[-1] + 1
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), 2)
    again = fi.MonitorResult.read(out)
    assert again.steps == steps + [steps[-1] + 1, steps[-1] + 2]
    assert "cut_record" not in out.read_text()


def test_start_step_drops_the_rows_from_that_step_on(tmp_path):
    out = tmp_path / "run.csv"
    model = mlp()
    with fi.monitor(model, every=1, out=out):
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), 5)
    with fi.monitor(model, every=1, out=out, start_step=3) as mon:   # restarted from a checkpoint of step 3
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    back = fi.MonitorResult.read(out)
    assert back.steps == [0, 1, 2, 3] and mon.result.steps == [0, 1, 2, 3]
    assert sum(r["step"] == 3 for r in back.rows) == 5
    with fi.monitor(model, every=1, out=out, resume=False) as mon:
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    assert fi.MonitorResult.read(out).steps == [0]
    with pytest.raises(ValueError, match="bins=7, but .* holds histograms of 50 bins"):
        fi.monitor(model, out=out, bins=7)
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_read_of_per_rank_files_and_missing_files(tmp_path):
    from fastinit.experiment._monitor import rank_path

    assert rank_path(tmp_path / "run.csv", 1) == str(tmp_path / "run.rank1.csv")
    for rank in (1, 0):   # the files of two ranks, as a distributed run writes them
        model = mlp(rank)
        with fi.monitor(model, every=1, out=rank_path(tmp_path / "run.csv", rank)) as mon:
            train(model, torch.optim.SGD(model.parameters(), lr=0.1), 2)
            mon.rank = rank   # (what a rank's monitor sets from torch.distributed)
    with pytest.raises(FileNotFoundError, match="no monitor file"):
        fi.MonitorResult.read(tmp_path / "other.csv")
    with pytest.raises(TypeError, match="out must be a file path"):
        fi.MonitorResult.read(3)
    back = fi.MonitorResult.read(tmp_path / "run.csv")
    assert back.config["files"] == [rank_path(tmp_path / "run.csv", r) for r in (0, 1)]
    assert len(back.rows) == 2 * 2 * 5


def test_tensorboard_reads_back_with_its_event_reader(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(str(tmp_path / "tb"))
    with fi.monitor(model, every=2, bins=16, tensorboard=writer) as mon:
        train(model, opt, 5)
    writer.close()
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    res = mon.result
    for r in res.rows:
        [event] = [e for e in acc.Scalars(f"fastinit/{r['name']}/std") if e.step == r["step"]]
        assert event.value == pytest.approx(r["std"], rel=1e-6)   # (stored as float32)
    [h] = [e for e in acc.Histograms("fastinit/2/hist") if e.step == 2]
    row = next(i for i, r in enumerate(res.rows) if r["name"] == "2" and r["step"] == 2)
    assert list(h.histogram_value.bucket) == res.hist[row].tolist()
    assert h.histogram_value.num == res.hist[row].sum()
    p = next(p for p in res.params if p["name"] == "0.weight" and p["step"] == 4)
    [u] = [e for e in acc.Scalars("fastinit/0.weight/update_ratio") if e.step == 4]
    assert u.value == pytest.approx(p["update_ratio"], rel=1e-6)
    assert "fastinit/1/saturated_frac" in acc.Tags()["scalars"]          # Tanh saturates: recorded
    assert "fastinit/0/saturated_frac" not in acc.Tags()["scalars"]      # Linear does not: NaN, left out


def test_abs_mean_is_the_mean_magnitude_of_each_output():
    model = mlp()
    seen = {}
    model[2].register_forward_hook(lambda m, a, out: seen.update(out=out.detach().double().numpy().copy()))
    with fi.monitor(model, every=1, abs_mean=True) as mon:
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    row = next(r for r in mon.result.rows if r["name"] == "2")
    assert row["abs_mean"] == pytest.approx(np.abs(seen["out"]).mean(), rel=1e-12)
    with fi.monitor(model, every=1) as mon:
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    assert all(math.isnan(r["abs_mean"]) for r in mon.result.rows) and len(mon.result.params) == 6
    with fi.monitor(model, every=1, params=False) as mon:   # module outputs only
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), 2)
    assert mon.result.params == [] and mon.result.steps == [0, 1]


def test_bad_sink_arguments_are_named(tmp_path):
    model = mlp()
    with pytest.raises(TypeError, match="out must be a file path"):
        fi.monitor(model, out=5)
    with pytest.raises(ValueError, match="out must be a file path, got ''"):
        fi.monitor(model, out="")
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        fi.monitor(model, out=tmp_path)
    with pytest.raises(ValueError, match="start_step must be >= 0"):
        fi.monitor(model, start_step=-1)
    with pytest.raises(TypeError, match="tensorboard must be a torch.utils.tensorboard.SummaryWriter"):
        fi.monitor(model, tensorboard="runs/")
    with pytest.raises(TypeError, match="abs_mean must be True or False"):
        fi.monitor(model, abs_mean=1)
    with pytest.raises(TypeError, match="resume must be True or False"):
        fi.monitor(model, resume=None)
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0
    assert not os.listdir(tmp_path)


def test_hugging_face_trainer_callback(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=32, bos_token_id=0,
                                  eos_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg)

    class Tokens(torch.utils.data.Dataset):
        def __len__(self):
            return 32

        def __getitem__(self, i):
            ids = torch.randint(0, 64, (16,), generator=torch.Generator().manual_seed(i))
            return {"input_ids": ids, "labels": ids}

    callback = fi.monitor.HFCallback(every=2, modules=r"transformer\.h\.\d+\.mlp$", out=tmp_path / "hf.csv")
    assert isinstance(callback, transformers.TrainerCallback) and callback.result is None
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8,
                                          max_steps=5, report_to=[], save_strategy="no", use_cpu=True,
                                          disable_tqdm=True, learning_rate=1e-3)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(), callbacks=[callback])
    trainer.train()
    res = callback.result
    assert trainer.state.global_step == 5 and res.steps == [0, 2, 4]
    assert [r["name"] for r in res.rows if r["step"] == 0] == ["transformer.h.0.mlp", "transformer.h.1.mlp"]
    assert all(math.isfinite(r["grad_std"]) for r in res.rows)
    ratios = [p["update_ratio"] for p in res.params]
    assert len(ratios) == 3 * len([p for p in model.parameters() if p.requires_grad])
    assert all(0 < u < 1 for u in ratios if not math.isnan(u)) and sum(math.isnan(u) for u in ratios) < len(ratios)
    same_result(res, fi.MonitorResult.read(tmp_path / "hf.csv"))
    # after train() the hooks are gone
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0
    with pytest.raises(TypeError, match="HFCallback got unknown argument.*evry"):
        fi.monitor.HFCallback(evry=3)
    with pytest.raises(ValueError, match="every must be >= 1"):
        fi.monitor.HFCallback(every=0)
