"""What the initializer doors (``fastinit.init`` for torch, ``fastinit.initializers`` for Keras and JAX, and the
experiment's ``init=``) share: the scheme table (``fastinit.nn.schemes``, one row a scheme with its weight variance),
tensor targets, fans, the Haar orthogonal matrix and the Keras base classes. Only ``schemes`` is public."""
from . import schemes

__all__ = ["schemes"]
