"""dropkit: deterministic, counter-based dropout for NumPy (and PyTorch, in
``dropkit.torch``) on the CPU.

The mask of element ``g = offset + i`` (``i`` the element's index in C order
of the logical shape, whatever its strides) depends only on
``(seed, stream, g, p)``: the same bits for any thread count, instruction set,
element type, and any split of a tensor into calls at their offsets. The
backward pass regenerates the mask instead of storing it.

>>> import numpy as np, dropkit
>>> drop = dropkit.Dropout(0.1, seed=42)
>>> x = np.ones((4, 256), np.float32)
>>> y = drop.forward(x, stream=7)                 # kept elements are 1/0.9
>>> dx = drop.backward(np.ones_like(x), stream=7)  # the same mask, regenerated
>>> bool(np.array_equal(y, dx))
True

Arrays of any (non-negative) strides are used in place, without a copy;
outputs are allocated with ``numpy.empty_like`` (same memory order) unless
``out=`` is given, and ``out=x`` runs in place. float32, float64, float16,
and bfloat16 when ``ml_dtypes`` is installed. The GIL is released while a
kernel runs. Bad input raises ``ValueError`` or ``TypeError`` naming the
values, and nothing is written.
"""

from __future__ import annotations

import numbers as _numbers

import numpy as _np

from ._dropkit import Dropout as _Core
from ._dropkit import fold_in, mask_len

__all__ = ["Dropout", "fold_in", "mask_len", "mask_words"]
__version__ = "0.1.0"


def mask_words(elements: int) -> int:
    """The number of ``uint64`` words of a bit mask of ``elements`` mask elements."""
    return (elements + 63) // 64


def _array(x, name):
    if not isinstance(x, _np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    return x


_U64 = 1 << 64


def _site(stream, offset):
    for name, v in (("stream", stream), ("offset", offset)):
        if not isinstance(v, _numbers.Integral) or not 0 <= v < _U64:
            raise ValueError(f"{name} must be an integer in [0, 2**64), got {v!r}")


def _mask_buffer(kind, elements):
    if kind == "bits":
        return _np.empty(mask_words(elements), _np.uint64)
    if kind == "bytes":
        return _np.empty(elements, _np.uint8)
    raise ValueError(f'mask must be "bits", "bytes", an array or None, got {kind!r}')


class Dropout:
    """Dropout with rate ``p`` (the probability of dropping), a ``seed``, and
    a ``scaling``: ``"inverted"`` (kept elements times ``1/(1-p)``, the
    PyTorch form), ``"classic"`` (training keeps values, inference multiplies
    by ``1-p``) or ``"alpha"`` (alpha dropout for SELU networks).

    A call names its random stream and the global index of its first element
    (``stream``, ``offset``). ``mask_shape`` shares one decision across axes:
    ``"channels_first"`` (dropout2d on NCHW), ``"channels_last"`` (NHWC),
    ``"per_sample"`` (drop-path), ``"locked_time_major"`` /
    ``"locked_batch_major"`` (one mask for every time step), or a tuple of
    extents, each the data's or 1 (TensorFlow's ``noise_shape``).

    Raises ``ValueError`` for ``p`` outside ``[0, 1]`` or NaN.
    """

    __slots__ = ("_core", "_scaling")

    def __init__(self, p: float, *, seed: int = 0, scaling: str = "inverted"):
        if not isinstance(p, _numbers.Real):
            raise TypeError(f"p must be a number, got {type(p).__name__}")
        if not isinstance(seed, _numbers.Integral) or not 0 <= seed < _U64:
            raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
        self._core = _Core(float(p), int(seed), scaling)
        self._scaling = scaling

    @property
    def scaling(self) -> str:
        return self._scaling

    @property
    def p(self) -> float:
        return self._core.p

    @property
    def seed(self) -> int:
        return self._core.seed

    def __repr__(self):
        return f"dropkit.Dropout(p={self.p}, seed={self.seed}, scaling={self.scaling!r})"

    def forward(self, x, stream=0, offset=0, *, out=None, mask_shape=None, mask=None,
                bias=None, residual=None):
        """Training-mode dropout of ``x``; returns ``out`` (a new array unless
        given; ``out=x`` in place, ``out=residual`` onto the residual).

        ``mask``: ``"bits"`` (``uint64`` words, bit ``u % 64`` of word
        ``u // 64`` is mask element ``u``, 1 = kept) or ``"bytes"`` (``uint8``,
        1 = kept) returns ``(out, mask)``; an array of either dtype is filled.
        ``bias`` and ``residual`` give the fused ``residual + dropout(x + bias)``
        over rows of ``len(bias)`` elements (C-contiguous arrays, no mask
        shape). With a mask asked for or given, returns ``(out, mask)``.
        """
        x = _array(x, "x")
        _site(stream, offset)
        y = _np.empty_like(x) if out is None else _array(out, "out")
        if isinstance(mask, str):
            mask = _mask_buffer(mask, mask_len(x.shape, mask_shape))
        self._core.forward(x, y, stream, offset, mask_shape, mask, bias, residual)
        return y if mask is None else (y, mask)

    def backward(self, dy, stream=0, offset=0, *, out=None, mask_shape=None, mask=None,
                 dbias=None):
        """The gradient of ``forward`` at the same site: the mask regenerated
        from ``(seed, stream, offset)``, or read from ``mask`` (bits or bytes
        as ``forward`` wrote them). ``dbias=True`` (or an array of the row
        length to fill) also computes the column sums of the result over
        rows of the last axis, summed in float64 in a fixed order, and
        returns ``(dx, dbias)`` (C-contiguous ``dy`` and ``out``, no mask
        shape)."""
        dy = _array(dy, "dy")
        _site(stream, offset)
        dx = _np.empty_like(dy) if out is None else _array(out, "out")
        if dbias is True:
            if dy.ndim == 0:
                raise ValueError("dbias needs an array of rank 1 or more")
            dbias = _np.empty(dy.shape[-1], dy.dtype)
        elif dbias is False:
            dbias = None
        self._core.backward(dy, dx, stream, offset, mask_shape, mask, dbias)
        return dx if dbias is None else (dx, dbias)

    def inference(self, x, *, out=None):
        """Evaluation mode: a copy of ``x`` (inverted, alpha) or ``x * (1-p)``
        (classic); ``out=x`` in place."""
        x = _array(x, "x")
        y = _np.empty_like(x) if out is None else _array(out, "out")
        self._core.inference(x, y)
        return y

    def mask(self, shape, stream=0, offset=0, *, mask_shape=None, kind="bits", out=None):
        """The mask alone of a call over ``shape`` (an int or a tuple) with
        ``mask_shape``: ``uint64`` bit words or ``uint8`` bytes."""
        _site(stream, offset)
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        if any(not isinstance(d, _numbers.Integral) or d < 0 for d in dims):
            raise ValueError(f"shape must hold non-negative integers, got {shape!r}")
        elements = mask_len(dims, mask_shape)
        m = _mask_buffer(kind, elements) if out is None else _array(out, "out")
        self._core.mask(m, stream, offset, elements)
        return m
