"""dropkit.torch: bits against the oracle, autograd (twice), PyTorch's
module semantics, streams from torch's generator, checkpointing."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import dropkit.torch as dkt  # noqa: E402
import oracle  # noqa: E402
from torch.utils.checkpoint import checkpoint  # noqa: E402

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def expected(x, p, seed, stream, mask_dims=None, scaling="inverted", offset=0):
    """The oracle's output for a torch tensor (computed in float32/64, then
    rounded once to x's dtype by torch, which rounds to nearest even)."""
    dims = tuple(x.shape) if mask_dims is None else tuple(mask_dims)
    kept = oracle.keep(seed, stream, offset, int(np.prod(dims, dtype=np.int64)), p).reshape(dims)
    kept = torch.from_numpy(np.broadcast_to(kept, x.shape).copy())
    wide = torch.float64 if x.dtype == torch.float64 else torch.float32
    xw = x.detach().to(wide)
    if scaling == "alpha":
        a = 1.0 / np.sqrt((1.0 - p) * (1.0 + p * oracle.A_PRIME ** 2))
        b = -a * oracle.A_PRIME * p
        dropped = torch.tensor(oracle.A_PRIME * a * (1.0 - p), dtype=torch.float64).to(wide)
        fa = torch.tensor(a, dtype=torch.float64).to(wide)
        fb = torch.tensor(b, dtype=torch.float64).to(wide)
        y = torch.where(kept, xw * fa + fb, dropped)
    else:
        s = torch.tensor(1.0 / (1.0 - p), dtype=torch.float64).to(wide)
        y = torch.where(kept, xw * s, torch.zeros((), dtype=wide))
    return y.to(x.dtype)


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    ia = a.detach().contiguous().view(torch.int16 if a.element_size() == 2 else
                                      torch.int32 if a.element_size() == 4 else torch.int64)
    ib = b.detach().contiguous().view(ia.dtype)
    bad = (ia != ib).nonzero()
    assert bad.numel() == 0, f"{bad.shape[0]} elements differ, first {bad[:3].tolist()}"


def stream_after(seed):
    torch.manual_seed(seed)
    return dkt.draw_stream()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dropout_module_matches_oracle_and_backward(dtype):
    x = (torch.randn(3, 4097, dtype=torch.float64) * 3).to(dtype).requires_grad_()
    stream = stream_after(11)
    torch.manual_seed(11)
    y = dkt.Dropout(0.3)(x)
    want = expected(x, 0.3, 0, stream)
    same_bits(y, want)
    g = torch.randn_like(x)
    y.backward(g)
    same_bits(x.grad, expected(g, 0.3, 0, stream))


def test_generator_argument_and_manual_seed():
    x = torch.ones(1000)
    g = torch.Generator().manual_seed(5)
    a = dkt.dropout(x, 0.5, generator=g)
    b = dkt.dropout(x, 0.5, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    torch.manual_seed(3)
    c = dkt.Dropout(0.5)(x)
    d = dkt.Dropout(0.5)(x)
    assert not torch.equal(c, d)  # each call draws a new stream
    torch.manual_seed(3)
    assert torch.equal(dkt.Dropout(0.5)(x), c)


def test_gradcheck_twice():
    x = torch.randn(4, 6, 5, dtype=torch.float64, requires_grad=True)
    for fn in (
        lambda t: dkt.dropout(t, 0.4, stream=9),
        lambda t: dkt.dropout2d(t[None], 0.4, stream=9)[0],
        lambda t: dkt.alpha_dropout(t, 0.4, True, stream=9),
        lambda t: dkt.feature_alpha_dropout(t, 0.4, True, stream=9),
    ):
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    r = torch.randn(4, 6, 5, dtype=torch.float64, requires_grad=True)
    fused = lambda x_, b_, r_: dkt.bias_dropout_residual(x_, b_, r_, 0.3, stream=4)  # noqa: E731
    assert torch.autograd.gradcheck(fused, (x, b, r))
    assert torch.autograd.gradgradcheck(fused, (x, b, r))


def test_fused_matches_composition():
    x = torch.randn(16, 64)
    b = torch.randn(64, requires_grad=True)
    r = torch.randn(16, 64, requires_grad=True)
    xg = x.clone().requires_grad_()
    y = dkt.bias_dropout_residual(xg, b, r, 0.2, stream=6)
    want = r.detach() + expected(x + b.detach(), 0.2, 0, 6)
    torch.testing.assert_close(y, want, rtol=0, atol=1e-6)
    g = torch.randn(16, 64)
    y.backward(g)
    dx = expected(g, 0.2, 0, 6)
    same_bits(xg.grad, dx)
    torch.testing.assert_close(b.grad, dx.sum(0), rtol=1e-5, atol=1e-5)
    same_bits(r.grad, g)
    m = dkt.BiasDropoutResidual(64, 0.2)
    assert m(x, x).shape == x.shape and m.bias.shape == (64,)
    m.eval()
    assert torch.equal(m(x, x), x + (x + m.bias))


@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_recomputes_the_same_mask(reentrant):
    lin1, lin2 = torch.nn.Linear(32, 64), torch.nn.Linear(64, 8)
    drop = dkt.Dropout(0.5)

    def block(t):
        return lin2(drop(torch.relu(lin1(t))))

    x = torch.randn(16, 32, requires_grad=True)
    torch.manual_seed(1)
    block(x).square().sum().backward()
    plain = [p.grad.clone() for p in (lin1.weight, lin2.weight)] + [x.grad.clone()]
    for p in (lin1.weight, lin2.weight, x):
        p.grad = None
    torch.manual_seed(1)
    checkpoint(block, x, use_reentrant=reentrant).square().sum().backward()
    ckpt = [p.grad for p in (lin1.weight, lin2.weight)] + [x.grad]
    for a, b in zip(plain, ckpt):
        assert torch.equal(a, b)


def test_channel_modules_and_unbatched_inputs():
    torch.manual_seed(0)
    cases = [
        (dkt.Dropout1d(0.5), torch.randn(4, 6, 70), (4, 6, 1)),
        (dkt.Dropout1d(0.5), torch.randn(6, 70), (6, 1)),
        (dkt.Dropout2d(0.5), torch.randn(2, 6, 9, 9), (2, 6, 1, 1)),
        (dkt.Dropout3d(0.5), torch.randn(2, 3, 4, 5, 6), (2, 3, 1, 1, 1)),
        (dkt.Dropout3d(0.5), torch.randn(3, 4, 5, 6), (3, 1, 1, 1)),
        (dkt.DropPath(0.5), torch.randn(8, 3, 5), (8, 1, 1)),
        (dkt.LockedDropout(0.5), torch.randn(7, 4, 9), (1, 4, 9)),
        (dkt.LockedDropout(0.5, batch_first=True), torch.randn(4, 7, 9), (4, 1, 9)),
    ]
    for module, x, mdims in cases:
        stream = stream_after(21)
        torch.manual_seed(21)
        same_bits(module(x), expected(x, 0.5, 0, stream, mdims))
    x = torch.randn(2, 3, 4, 4)
    stream = stream_after(2)
    torch.manual_seed(2)
    same_bits(dkt.FeatureAlphaDropout(0.3)(x), expected(x, 0.3, 0, stream, (2, 3, 1, 1), "alpha"))
    stream = stream_after(2)
    torch.manual_seed(2)
    same_bits(dkt.AlphaDropout(0.3)(x), expected(x, 0.3, 0, stream, None, "alpha"))


def test_pytorch_errors_and_warnings():
    for p in (-0.1, 1.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            dkt.Dropout(p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            torch.nn.Dropout(p)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        dkt.Dropout1d()(torch.randn(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D"):
        dkt.Dropout2d()(torch.randn(2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        dkt.Dropout2d()(torch.randn(2, 3, 4, 5, 6))
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        dkt.Dropout3d()(torch.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="CPU"):
        dkt.Dropout()(torch.empty(3, device="meta"))
    with pytest.raises(TypeError, match="int64"):
        dkt.Dropout()(torch.ones(3, dtype=torch.int64))
    assert repr(dkt.Dropout(0.2, inplace=True)) == "Dropout(p=0.2, inplace=True)"


def test_eval_empty_inplace_and_memory_format():
    m = dkt.Dropout2d(0.5)
    x = torch.randn(2, 8, 5, 5).to(memory_format=torch.channels_last)
    y = m(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    m.eval()
    assert m(x) is x
    m.train()
    assert dkt.Dropout()(torch.empty(0, 3)).shape == (0, 3)
    x = torch.randn(1000)
    stream = stream_after(4)
    want = expected(x, 0.5, 0, stream)
    torch.manual_seed(4)
    xi = x.clone()
    out = dkt.Dropout(0.5, inplace=True)(xi)
    assert out is xi
    same_bits(xi, want)
    # in place under autograd (a non-leaf)
    leaf = x.clone().requires_grad_()
    torch.manual_seed(4)
    h = leaf * 1.0
    dkt.Dropout(0.5, inplace=True)(h).sum().backward()
    same_bits(leaf.grad, expected(torch.ones(1000), 0.5, 0, stream))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_strided_tensors(dtype):
    base = torch.randn(6, 40, 9, dtype=torch.float64).to(dtype)
    for v in (base[:, ::3, 1:8], base.transpose(0, 2), base[1:5, 3:, ::2]):
        y = dkt.dropout(v, 0.3, stream=12)
        same_bits(y, expected(v.contiguous(), 0.3, 0, 12))
    g = torch.ones(()).expand(6, 40)  # an expanded gradient (stride 0)
    same_bits(dkt.dropout(g, 0.3, stream=1), expected(g.contiguous(), 0.3, 0, 1))


def test_swap_into_a_cnn_trains():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), dkt.Dropout2d(0.2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 8 * 8, 10))
    x = torch.randn(64, 1, 8, 8)
    t = torch.randint(0, 10, (64,))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    first = None
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(net(x), t)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.eval()
        net(x)


def test_eval_returns_the_input_on_any_device():
    x = torch.empty(2, 3, 4, 4, device="meta")
    for module in (dkt.Dropout(), dkt.Dropout2d(), dkt.AlphaDropout(), dkt.DropPath(0.1)):
        module.eval()
        assert module(x) is x
    assert dkt.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="2\\*\\*64"):
        dkt.dropout(torch.ones(3), 0.5, stream=-1)
