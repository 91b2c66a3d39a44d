"""The ``fastinit`` command: ``info``, ``bench``, ``simulate``, ``sweep``, ``probe``, ``train`` (``fastinit --help``).
``fastinit.cli.bench`` holds the benchmark cases that ``fastinit bench`` runs and that bench/ builds on."""
from ._main import main

__all__ = ["main"]
