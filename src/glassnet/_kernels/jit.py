"""The numba kernels (importing this module imports numba; layers reach it through ``glassnet._kernels.compiled()``).

Each kernel computes what its layer's NumPy code computes, in the same order of floating-point operations where
it can, one pass over memory instead of one NumPy call per operation. Differences from NumPy: float32 tanh is a
rational approximation (below, 6 units in the last place at most, against NumPy's own SIMD tanh), and col2im
and overlapping pooling add their terms in another order. No fast-math: NaN and inf propagate as in NumPy.
Scalars (1/2, 1) come in as arguments in the arrays' dtype, so float32 stays float32 throughout.
Every kernel releases the GIL and is compiled once per dtype, cached on disk.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

Array = np.ndarray

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}  # numpy: x / 0 gives inf or NaN, no check

# tanh in float32: Eigen's rational approximation p(x) / q(x) of degrees 13 / 6 on [-7.9, 7.9] (|tanh| rounds to 1
# beyond), x itself below |x| < 4e-4; max relative error 3.4e-7. LLVM vectorises it, where libm's tanhf is scalar.
_CLAMP, _TINY = np.float32(7.90531110763549805), np.float32(0.0004)
_A1, _A3, _A5 = np.float32(4.89352455891786e-03), np.float32(6.37261928875436e-04), np.float32(1.48572235717979e-05)
_A7, _A9 = np.float32(5.12229709037114e-08), np.float32(-8.60467152213735e-11)
_A11, _A13 = np.float32(2.00018790482477e-13), np.float32(-2.76076847742355e-16)
_B0, _B2 = np.float32(4.89352518554385e-03), np.float32(2.26843463243900e-03)
_B4, _B6 = np.float32(1.18534705686654e-04), np.float32(1.19825839466702e-06)


def tanh(x: float) -> float:
    """tanh in the dtype of x (the compiled versions below; this body serves plain Python)."""
    return math.tanh(x)


@overload(tanh)
def _tanh(x):  # numba's typing hook (no annotations: numba compares signatures): the version for x's type
    if isinstance(x, types.Float) and x.bitwidth == 32:
        def tanh32(x):
            y = _CLAMP if x > _CLAMP else x  # comparisons, not min/max: a NaN passes through
            y = -_CLAMP if y < -_CLAMP else y
            y2 = y * y
            p = ((((((_A13 * y2 + _A11) * y2 + _A9) * y2 + _A7) * y2 + _A5) * y2 + _A3) * y2 + _A1) * y
            q = ((_B6 * y2 + _B4) * y2 + _B2) * y2 + _B0
            t = p / q
            return x if abs(x) < _TINY else t
        return tanh32
    return lambda x: math.tanh(x)


# ----------------------------------------------------------------------------- LSTM
@njit(**_JIT)
def lstm_forward_step(z: Array, c_prev: Array, gates: Array, c: Array, tanh_c: Array, h: Array, half: float) -> None:
    """One step of the LSTM's elementwise part for a block of rows: from z = x_t W_x + h_(t-1) W_h + b (m, 4H),
    gates = [sigma(z_i) sigma(z_f) sigma(z_o) tanh(z_g)] with sigma(z) = tanh(z / 2) / 2 + 1/2,
    c = f c_prev + i g (c_prev of 0 rows: the first step, c_0 = 0), tanh_c = tanh(c), h = o tanh_c."""
    m, width = z.shape
    hid = width // 4
    first = c_prev.shape[0] == 0
    for r in range(m):
        for k in range(3 * hid):
            gates[r, k] = tanh(z[r, k] * half) * half + half
        for k in range(3 * hid, width):
            gates[r, k] = tanh(z[r, k])
        for k in range(hid):
            ct = gates[r, k] * gates[r, 3 * hid + k]
            if not first:
                ct += gates[r, hid + k] * c_prev[r, k]
            c[r, k] = ct
            tc = tanh(ct)
            tanh_c[r, k] = tc
            h[r, k] = gates[r, 2 * hid + k] * tc


@njit(**_JIT)
def lstm_backward_step(dh: Array, dc: Array, gates: Array, c_prev: Array, tanh_c: Array, gates_next: Array,
                       delta: Array, one: float) -> None:
    """One step back for a block of rows, dh = dC/dh_t (m, H); dc holds dC/dc_(t+1) and leaves with dC/dc_t:
    dc_t = dc_(t+1) f_(t+1) + dh o (1 - tanh^2 c_t)  (f_(t+1) from gates_next; 0 rows at the last step),
    delta = [dc (1 - i) i g,  dc (1 - f) f c_(t-1),  dh (1 - o) o tanh c_t,  dc (1 - g^2) i]  (c_0 = 0: c_prev
    of 0 rows), the operations in the order of the NumPy code, so the results are the same to the bit."""
    m, hid = dh.shape
    last, first = gates_next.shape[0] == 0, c_prev.shape[0] == 0
    zero = one - one
    for r in range(m):
        for k in range(hid):
            i, f = gates[r, k], gates[r, hid + k]
            o, g = gates[r, 2 * hid + k], gates[r, 3 * hid + k]
            tc = tanh_c[r, k]
            d = dc[r, k]
            if not last:
                d *= gates_next[r, hid + k]
            d += dh[r, k] * ((one - tc * tc) * o)
            dc[r, k] = d
            delta[r, k] = d * ((one - i) * i * g)
            delta[r, hid + k] = d * (zero if first else (one - f) * f * c_prev[r, k])
            delta[r, 2 * hid + k] = dh[r, k] * ((one - o) * o * tc)
            delta[r, 3 * hid + k] = d * ((one - g * g) * i)


# ----------------------------------------------------------------------------- convolution and pooling
@njit(**_JIT)
def col2im(part: Array, dx: Array, kh: int, kw: int, sh: int, sw: int) -> None:
    """Adds each patch's gradient back onto the pixels it was cut from: with part (m, H', W', kh kw C) =
    delta W_col^T and dx (m, H + 2p, W + 2p, C) zero-padded, channels-last,
    dx[b, s i + u, s j + v, c] += part[b, i, j, (u kw + v) C + c]."""
    m, ho, wo, _ = part.shape
    ch = dx.shape[3]
    for b in range(m):
        for i in range(ho):
            for j in range(wo):
                for u in range(kh):
                    for v in range(kw):
                        base = (u * kw + v) * ch
                        for c in range(ch):
                            dx[b, i * sh + u, j * sw + v, c] += part[b, i, j, base + c]


@njit(**_JIT)
def max_pool(x: Array, out: Array, arg: Array, ph: int, pw: int, sh: int, sw: int, with_arg: bool) -> None:
    """out = the maximum of each window of channels-last x (n, H, W, C), arg its row-major offset u pw + v (the
    first on ties; written when ``with_arg``). A NaN in a window makes its maximum NaN, as np.maximum does."""
    n, ho, wo, ch = out.shape
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for c in range(ch):
                    out[b, i, j, c] = x[b, i * sh, j * sw, c]
                    if with_arg:
                        arg[b, i, j, c] = 0
                for u in range(ph):
                    for v in range(pw):
                        if u == 0 and v == 0:
                            continue
                        k = u * pw + v
                        for c in range(ch):
                            val = x[b, i * sh + u, j * sw + v, c]
                            if val > out[b, i, j, c]:
                                out[b, i, j, c] = val
                                if with_arg:
                                    arg[b, i, j, c] = k
                            elif val != val:
                                out[b, i, j, c] = val


@njit(**_JIT)
def max_pool_back(grad: Array, arg: Array, dx: Array, ph: int, pw: int, sh: int, sw: int, overlapping: bool,
                  one: float) -> None:
    """dx[window entry k] = grad * (arg == k) on channels-last arrays, added up where windows overlap, as the
    NumPy code writes it (so a NaN or inf gradient reaches every entry of its window there too)."""
    n, ho, wo, ch = grad.shape
    zero = one - one
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for u in range(ph):
                    for v in range(pw):
                        k = u * pw + v
                        y, xx = i * sh + u, j * sw + v
                        for c in range(ch):
                            val = grad[b, i, j, c] * (one if arg[b, i, j, c] == k else zero)
                            if overlapping:
                                dx[b, y, xx, c] += val
                            else:
                                dx[b, y, xx, c] = val
