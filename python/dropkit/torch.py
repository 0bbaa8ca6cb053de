"""dropkit for PyTorch: drop-in dropout modules and functions on CPU tensors.

>>> import torch, dropkit.torch as dkt
>>> _ = torch.manual_seed(0)                  # reproduces the masks of a run
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 8), dkt.Dropout(0.1))
>>> model(torch.ones(2, 8)).shape
torch.Size([2, 8])

The modules take PyTorch's names, arguments and semantics (``p``,
``inplace``, ``eval()`` is the identity, inputs without a batch dimension,
the same errors and warnings for unexpected ranks, the input's memory format
kept). Their backward passes regenerate the mask from ``(seed, stream,
offset)``: no mask is stored, and they are differentiable twice (and more).
Outputs are allocated with ``torch.empty_like``, never zero-filled. Tensors
of any strides are read and written in place; float32, float64, float16 and
bfloat16; a tensor on another device raises ``RuntimeError``.

Streams. Each training call draws its stream from torch's CPU random
generator: one 63-bit integer, ``torch.empty((), dtype=torch.int64)
.random_(generator=g)`` with ``g`` the ``generator=`` argument or torch's
default CPU generator, and uses offset 0. So ``torch.manual_seed(s)``
reproduces a run, and activation checkpointing, which saves the CPU
generator's state and restores it before recomputing the forward (in both
``use_reentrant`` modes), recomputes the same mask. The seed (the ``seed=``
argument, 0 by default) picks one of 2**64 families of streams; a call with
``stream=`` given draws nothing.
"""

from __future__ import annotations

import functools
import threading
import warnings

import torch

from . import _dropkit

__all__ = [
    "AlphaDropout",
    "BiasDropoutResidual",
    "DropPath",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
    "LockedDropout",
    "alpha_dropout",
    "bias_dropout_residual",
    "draw_stream",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
]

_CODES = {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}


@functools.lru_cache(maxsize=256)
def _core(p: float, seed: int, scaling: str):
    return _dropkit.Dropout(p, seed, scaling)


def _check_p(p):
    if p < 0.0 or p > 1.0 or p != p:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _raw(t: torch.Tensor):
    """(data pointer, dtype code, dims, element strides) of a CPU tensor."""
    if t.device.type != "cpu":
        raise RuntimeError(f"dropkit.torch runs on CPU tensors; this tensor is on {t.device}")
    code = _CODES.get(t.dtype)
    if code is None:
        raise TypeError(
            f"dropkit.torch supports float32, float64, float16 and bfloat16, not {t.dtype}"
        )
    return (t.data_ptr(), code, t.shape, t.stride())


_draws = threading.local()


def draw_stream(generator: torch.Generator | None = None) -> int:
    """One stream from torch's CPU generator (or ``generator``): what every
    training call of this module does when no ``stream=`` is given."""
    if generator is not None and generator.device.type != "cpu":
        raise RuntimeError(f"dropkit.torch needs a CPU generator, got one on {generator.device}")
    buf = getattr(_draws, "buf", None)
    if buf is None:
        buf = _draws.buf = torch.empty((), dtype=torch.int64)
    return int(buf.random_(generator=generator))


def _kernel(core, x, out, stream, offset, shape, backward):
    if shape is None and x.is_contiguous() and out.is_contiguous():
        # A dense tensor: three integers instead of its layout.
        code = _CODES.get(x.dtype)
        if code is not None and x.is_cpu and out.dtype == x.dtype:
            core.dense(backward, code, x.data_ptr(), out.data_ptr(), x.numel(), stream, offset)
            return out
    if backward:
        core.backward(_raw(x), _raw(out), stream, offset, shape)
    else:
        core.forward(_raw(x), _raw(out), stream, offset, shape)
    return out


class _DropoutFn(torch.autograd.Function):
    """y = dropout(x) (or its backward map, which is linear and its own
    adjoint); the gradient applies the backward map at the same site."""

    @staticmethod
    def forward(ctx, x, core, stream, offset, shape, backward):
        ctx.params = (core, stream, offset, shape)
        return _kernel(core, x, torch.empty_like(x), stream, offset, shape, backward)

    @staticmethod
    def backward(ctx, gy):
        core, stream, offset, shape = ctx.params
        gx = _DropoutFn.apply(gy, core, stream, offset, shape, True)
        return gx, None, None, None, None, None


class _DropoutInPlaceFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, core, stream, offset, shape):
        ctx.params = (core, stream, offset, shape)
        ctx.mark_dirty(x)
        return _kernel(core, x, x, stream, offset, shape, False)

    @staticmethod
    def backward(ctx, gy):
        core, stream, offset, shape = ctx.params
        gx = _DropoutFn.apply(gy, core, stream, offset, shape, True)
        return gx, None, None, None, None


def _apply(x, p, training, inplace, shape, scaling, generator, stream, seed, offset=0):
    _check_p(p)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
    if not training:
        return x  # as PyTorch: the input itself, on any device
    if stream is None:
        stream = draw_stream(generator)
    elif not 0 <= stream < 1 << 64 or not 0 <= offset < 1 << 64:
        raise ValueError(f"stream {stream} and offset {offset} must be in [0, 2**64)")
    core = _core(float(p), int(seed), scaling)
    if torch.is_grad_enabled() and x.requires_grad:
        if inplace:
            return _DropoutInPlaceFn.apply(x, core, stream, offset, shape)
        return _DropoutFn.apply(x, core, stream, offset, shape, False)
    out = x if inplace else torch.empty_like(x)
    return _kernel(core, x, out, stream, offset, shape, False)


def dropout(input, p=0.5, training=True, inplace=False, *, generator=None, stream=None,
            seed=0, offset=0):
    """``torch.nn.functional.dropout`` with dropkit's mask: elementwise,
    kept elements times ``1/(1-p)``. ``offset`` is the global index of the
    input's first element: a shard of a bigger tensor at its offset gets
    that tensor's mask (``examples/ranks.py``)."""
    return _apply(input, p, training, inplace, None, "inverted", generator, stream, seed,
                  offset)


def alpha_dropout(input, p=0.5, training=False, inplace=False, *, generator=None,
                  stream=None, seed=0):
    """``torch.nn.functional.alpha_dropout``: dropped elements take SELU's
    negative saturation, then an affine map keeps mean 0 and variance 1."""
    return _apply(input, p, training, inplace, None, "alpha", generator, stream, seed)


def _feature_rank_check(x, name):
    if x.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")


def dropout1d(input, p=0.5, training=True, inplace=False, *, generator=None, stream=None,
              seed=0):
    """``torch.nn.functional.dropout1d``: one decision per channel of
    (N, C, L) or (C, L)."""
    _check_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. "
            "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 "
            "spatial dimension, a channel dimension, and an optional batch dimension "
            "(i.e. 2D or 3D inputs)."
        )
    # (C, L) has one decision per channel, as (1, C, L) would.
    shape = (input.shape[0], 1) if input.dim() == 2 else (input.shape[0], input.shape[1], 1)
    return _apply(input, p, training, inplace, shape, "inverted", generator, stream, seed)


def dropout2d(input, p=0.5, training=True, inplace=False, *, generator=None, stream=None,
              seed=0):
    """``torch.nn.functional.dropout2d``: one decision per channel of
    (N, C, H, W); a 3-D input is taken as (N, C, L) with PyTorch's warning."""
    _check_p(p)
    dim = input.dim()
    if dim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {dim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if dim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    _feature_rank_check(input, "dropout2d")
    shape = tuple(input.shape[:2]) + (1,) * (dim - 2)
    return _apply(input, p, training, inplace, shape, "inverted", generator, stream, seed)


def dropout3d(input, p=0.5, training=True, inplace=False, *, generator=None, stream=None,
              seed=0):
    """``torch.nn.functional.dropout3d``: one decision per channel of
    (N, C, D, H, W) or (C, D, H, W)."""
    _check_p(p)
    dim = input.dim()
    if dim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {dim}-D input to dropout3d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout3d "
            "exists to provide channel-wise dropout on inputs with 3 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    if dim == 4:
        shape = (input.shape[0],) + (1,) * 3  # (C, D, H, W): one decision per channel
    else:
        _feature_rank_check(input, "dropout3d")
        shape = tuple(input.shape[:2]) + (1,) * (dim - 2)
    return _apply(input, p, training, inplace, shape, "inverted", generator, stream, seed)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False, *, generator=None,
                          stream=None, seed=0):
    """``torch.nn.functional.feature_alpha_dropout``: alpha dropout with one
    decision per channel (dims 0 and 1)."""
    _check_p(p)
    _feature_rank_check(input, "feature_alpha_dropout")
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    return _apply(input, p, training, inplace, shape, "alpha", generator, stream, seed)


def drop_path(input, p=0.0, training=False, scale_by_keep=True, *, generator=None,
              stream=None, seed=0):
    """Stochastic depth: one decision per sample (dim 0), kept samples times
    ``1/(1-p)`` (``scale_by_keep=False``: times 1)."""
    if input.dim() == 0:
        raise RuntimeError("drop_path needs an input with a batch dimension")
    shape = (input.shape[0],) + (1,) * (input.dim() - 1)
    scaling = "inverted" if scale_by_keep else "classic"
    return _apply(input, p, training, False, shape, scaling, generator, stream, seed)


def locked_dropout(input, p=0.5, training=True, batch_first=False, *, generator=None,
                   stream=None, seed=0):
    """One mask for every time step of (T, B, F) (``batch_first``: (B, T, F))."""
    if input.dim() != 3:
        raise RuntimeError(
            f"locked dropout expects a 3-D input (time, batch, features), got {input.dim()}-D"
        )
    if batch_first:
        b, _, f = input.shape
        shape = (b, 1, f)
    else:
        _, b, f = input.shape
        shape = (1, b, f)
    return _apply(input, p, training, False, shape, "inverted", generator, stream, seed)


class _BiasDropoutResidualFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, bias, residual, core, stream):
        ctx.params = (core, stream)
        y = torch.empty_like(x)
        core.forward(_raw(x), _raw(y), stream, 0, None, None, _raw(bias), _raw(residual))
        return y

    @staticmethod
    def backward(ctx, gy):
        core, stream = ctx.params
        if torch.is_grad_enabled():
            # create_graph: a differentiable composition of the same maps.
            gx = _DropoutFn.apply(gy, core, stream, 0, None, True)
            gb = gx.reshape(-1, gx.shape[-1]).sum(0)
        else:
            gy = gy.contiguous()
            gx = torch.empty_like(gy)
            gb = torch.empty(gy.shape[-1], dtype=gy.dtype)
            core.backward(_raw(gy), _raw(gx), stream, 0, None, None, _raw(gb))
        return gx, gb, gy, None, None


def bias_dropout_residual(x, bias, residual, p=0.1, training=True, *, generator=None,
                          stream=None, seed=0):
    """``residual + dropout(x + bias)`` in one pass (bias over the last axis),
    differentiable in all three; ``dbias`` summed in a fixed order."""
    _check_p(p)
    if x.shape != residual.shape or bias.dim() != 1 or (x.dim() and bias.shape[0] != x.shape[-1]):
        raise ValueError(
            f"bias_dropout_residual: x {tuple(x.shape)}, residual {tuple(residual.shape)} "
            f"and bias {tuple(bias.shape)}: bias must have x's last extent and residual x's shape"
        )
    if not training:
        return residual + (x + bias)
    if stream is None:
        stream = draw_stream(generator)
    core = _core(float(p), int(seed), "inverted")
    x, bias, residual = x.contiguous(), bias.contiguous(), residual.contiguous()
    return _BiasDropoutResidualFn.apply(x, bias, residual, core, stream)


class _Base(torch.nn.Module):
    def __init__(self, p: float = 0.5, inplace: bool = False, *, seed: int = 0,
                 generator: torch.Generator | None = None):
        super().__init__()
        _check_p(p)
        self.p = p
        self.inplace = inplace
        self.seed = seed
        self.generator = generator

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def _kw(self):
        return {"generator": self.generator, "seed": self.seed}


class Dropout(_Base):
    """``torch.nn.Dropout`` with dropkit's mask (see the module docs for
    the streams)."""

    def forward(self, input):
        return dropout(input, self.p, self.training, self.inplace, **self._kw())


class Dropout1d(_Base):
    """``torch.nn.Dropout1d``: channel dropout of (N, C, L) or (C, L)."""

    def forward(self, input):
        return dropout1d(input, self.p, self.training, self.inplace, **self._kw())


class Dropout2d(_Base):
    """``torch.nn.Dropout2d``: channel dropout of (N, C, H, W)."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training, self.inplace, **self._kw())


class Dropout3d(_Base):
    """``torch.nn.Dropout3d``: channel dropout of (N, C, D, H, W) or (C, D, H, W)."""

    def forward(self, input):
        return dropout3d(input, self.p, self.training, self.inplace, **self._kw())


class AlphaDropout(_Base):
    """``torch.nn.AlphaDropout`` for SELU networks."""

    def forward(self, input):
        return alpha_dropout(input, self.p, self.training, self.inplace, **self._kw())


class FeatureAlphaDropout(_Base):
    """``torch.nn.FeatureAlphaDropout``: alpha dropout per channel."""

    def forward(self, input):
        return feature_alpha_dropout(input, self.p, self.training, self.inplace, **self._kw())


class DropPath(_Base):
    """Stochastic depth (timm's ``DropPath``): drops whole samples of a
    residual branch. ``DropPath(p, scale_by_keep=True)``."""

    def __init__(self, p: float = 0.0, scale_by_keep: bool = True, *, seed: int = 0,
                 generator: torch.Generator | None = None):
        super().__init__(p, False, seed=seed, generator=generator)
        self.scale_by_keep = scale_by_keep

    def extra_repr(self) -> str:
        return f"p={self.p}, scale_by_keep={self.scale_by_keep}"

    def forward(self, input):
        return drop_path(input, self.p, self.training, self.scale_by_keep, **self._kw())


class LockedDropout(_Base):
    """Variational (locked) dropout of a sequence: one mask shared by every
    time step of (T, B, F), or (B, T, F) with ``batch_first=True``."""

    def __init__(self, p: float = 0.5, batch_first: bool = False, *, seed: int = 0,
                 generator: torch.Generator | None = None):
        super().__init__(p, False, seed=seed, generator=generator)
        self.batch_first = batch_first

    def extra_repr(self) -> str:
        return f"p={self.p}, batch_first={self.batch_first}"

    def forward(self, input):
        return locked_dropout(input, self.p, self.training, self.batch_first, **self._kw())


class BiasDropoutResidual(_Base):
    """``residual + dropout(x + bias)`` in one pass, with a learnable
    ``bias`` of ``features`` elements (zeros at first) over the last axis."""

    def __init__(self, features: int, p: float = 0.1, *, seed: int = 0,
                 generator: torch.Generator | None = None, dtype=None):
        super().__init__(p, False, seed=seed, generator=generator)
        self.bias = torch.nn.Parameter(torch.zeros(features, dtype=dtype))

    def extra_repr(self) -> str:
        return f"features={self.bias.shape[0]}, p={self.p}"

    def forward(self, x, residual):
        return bias_dropout_residual(x, self.bias, residual, self.p, self.training,
                                     **self._kw())
