"""fi.monitor inside a Hugging Face ``transformers.Trainer``: a callback that attaches a monitor to the Trainer's
model when training begins and closes it when training ends.

    cb = fi.monitor.HFCallback(every=10, out="monitor.csv")
    Trainer(model=model, args=args, train_dataset=ds, callbacks=[cb]).train()
    print(cb.result.summary())

The Trainer's optimizer (accelerate's wrapper around a torch optimizer) steps the model's parameters, so the
monitor's optimizer step hooks see each optimizer step: the monitor's steps are the Trainer's ``global_step``
(it starts at ``state.global_step``, so a run resumed from a checkpoint numbers its steps as the Trainer does).
Evaluation passes run under ``torch.no_grad()`` in eval mode and are not recorded (``eval_passes=True`` records
them).
"""
import inspect

from .._optional import require
from ._monitor import Monitor

__all__ = ["HFCallback"]

_CALLBACK_CLASS = []   # the TrainerCallback subclass, made on first use (transformers is optional)


def _callback_class():
    if _CALLBACK_CLASS:
        return _CALLBACK_CLASS[0]
    transformers = require("transformers", "fastinit.monitor.HFCallback")

    class MonitorCallback(transformers.TrainerCallback):
        """A ``transformers.TrainerCallback`` that runs ``fastinit.monitor`` on the Trainer's model during
        ``train()``; ``result`` is the ``MonitorResult`` (None before training)."""

        def __init__(self, every, kwargs):
            self.every, self.kwargs, self.monitor = every, kwargs, None

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if self.monitor is not None:   # a second train() with the same callback
                self.monitor.close()
            start = self.kwargs.get("start_step", state.global_step)
            kw = {k: v for k, v in self.kwargs.items() if k != "start_step"}
            self.monitor = Monitor(model, every=self.every, start_step=start, **kw).start()

        def on_train_end(self, args, state, control, **kwargs):
            if self.monitor is not None:
                self.monitor.close()

        @property
        def result(self):
            return None if self.monitor is None else self.monitor.result

    _CALLBACK_CLASS.append(MonitorCallback)
    return MonitorCallback


def HFCallback(every=10, **monitor_kwargs):  # noqa: N802 - it makes a callback object, named as the issue reads
    """A Hugging Face ``transformers.TrainerCallback`` that records ``fastinit.monitor`` statistics of the
    Trainer's model while ``Trainer.train()`` runs: per-layer activation and gradient statistics every ``every``
    optimizer steps, and each parameter's |W|, |dL/dW| and update ratio |W_{t+1} - W_t| / |W_t| (about 1e-3 is
    healthy: Karpathy, CS231n notes). Its ``result`` is the ``MonitorResult`` (``summary()``, ``to_pandas()``,
    ``plot()``).

    Args:
        every: record optimizer steps 0, every, 2 every, ... (the Trainer's ``global_step``).
        **monitor_kwargs: any other argument of ``fastinit.monitor`` (``modules``, ``grads``, ``updates``,
            ``bins``, ``out``, ``tensorboard``, ...), checked now.

    Returns:
        The callback, for ``Trainer(..., callbacks=[...])``.
    """
    known = set(inspect.signature(Monitor).parameters) - {"model", "every"}
    unknown = sorted(set(monitor_kwargs) - known)
    if unknown:
        raise TypeError(f"HFCallback got unknown argument(s) {', '.join(unknown)}; fastinit.monitor takes "
                        f"{', '.join(sorted(known))}")
    torch = require("torch", "fastinit.monitor.HFCallback")
    # the arguments' values fail now, not when training begins (a monitor of a one-weight model, never started)
    Monitor(torch.nn.Linear(1, 1), every=every, **{k: v for k, v in monitor_kwargs.items() if k != "modules"})
    return _callback_class()(every, monitor_kwargs)
