"""The optional dependencies, imported where a feature needs one: one helper, one install hint per package."""
import importlib

# what pip installs for each (the extras of pyproject.toml where one exists)
INSTALL = {"pandas": "pandas", "pyarrow": "pandas pyarrow", "matplotlib": "'fastinit-philox[plot]'",
           "sklearn": "'fastinit-philox[digits]'", "dask": "'dask[distributed]'", "transformers": "transformers"}
DISTRIBUTION_NAMES = {"sklearn": "scikit-learn", "dask": "dask.distributed"}


def require(module, needed_for, error=ImportError):
    """``module`` imported, or ``error`` (ImportError; the CLI's argument errors: ValueError) saying
    "<needed_for> needs <package>: pip install <what installs it>"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        name = DISTRIBUTION_NAMES.get(top, top)
        raise error(f"{needed_for} needs {name}: pip install {INSTALL.get(top, top)}") from None
