"""The classic experiment: push a batch through a deep network and read each layer's activation and gradient
statistics to see which initialization keeps the signal alive (docs/experiment.md).

- ``simulate``: a deep random MLP, forward (and backward) in float32 or float64, per-layer statistics;
- ``probe``: the same statistics of a user's own torch model, from forward and backward hooks;
- ``sweep``: a grid of simulations (or trainings), in parallel, resumable from a CSV journal;
- ``train``: does the init train? A small MLP trained on a bundled data set, per-layer statistics per step;
- ``monitor``: the per-layer statistics, gradients and update ratios of any torch model while it trains;
- ``coord_check``: does the parametrization keep activation sizes independent of the width (Yang et al. 2021)?
- ``theory``: the mean-field theory (Poole et al. 2016, Schoenholz et al. 2017): fixed points, chi, depth scales.
"""
from . import theory
from ._coord_check import CoordCheckResult, coord_check
from ._journal import JournalBusy
from ._monitor import Monitor, MonitorResult, monitor
from ._monitor_hf import HFCallback
from ._probe import ProbeResult, ProbeResults, probe
from ._simulation import SimulationResult, normalize, simulate
from ._sweep import SweepResult, sweep
from ._training import TrainResult, plot_training, train

monitor.HFCallback = HFCallback   # spelled fastinit.monitor.HFCallback where a Trainer is built

__all__ = ["simulate", "normalize", "SimulationResult", "probe", "ProbeResult", "ProbeResults", "monitor", "Monitor",
           "MonitorResult", "HFCallback", "coord_check", "CoordCheckResult", "sweep",
           "SweepResult", "JournalBusy", "train", "TrainResult", "plot_training", "theory"]
