"""Data augmentation for images: random affine maps and elastic distortions, in training only.

Each image i of a batch gets its own map from an output pixel p (coordinates in pixels from the image's
centre, x to the right, y down) to the point of the input it reads:

    q_i(p) = A_i^-1 (p - t_i) + alpha * (G_sigma * u_i)(p),    A_i = s_i R(theta_i) [[1, k_i], [0, 1]]

with s the scale, theta the rotation, k the shear, t the shift, and the elastic displacement field of
Simard, Steinkraus & Platt (2003): u uniform in [-1, 1] at every pixel, smoothed by a Gaussian G of width
sigma and multiplied by alpha. The output is the input read at q by bilinear interpolation (0 outside):

    out_i(p) = sum_k w_ik(p) x_i(c_k(p)),   the 4 pixels c_k around q_i(p),  w_ik >= 0,  sum_k w_ik <= 1,

one gather for the whole batch, so pixel values stay within the input's range. The map is linear in x:
backward sends each dC/dout_i(p) w_ik back to the pixel c_k(p) (the transpose).

Opt-in distortions of what people bring (all off by default, so a layer without them draws the same random
numbers as before): a pen of another width, before the map, as grey dilation (d > 0) or erosion (d < 0) by a
(abs(d) + 1) x (abs(d) + 1) square,

    stroke_i(p) = max_{o in S_d} x_i(p + o)   (min for d < 0),   d uniform in the integers -thin..thicken,

and a camera's softness, after it, as one separable linear map per image: a Gaussian blur of width sigma_i
(uniform in [0, blur]) and, with probability ``lowres``, a resolution loss (box-filtered down to s x s pixels,
s uniform in H/4..4H/7, and bilinearly enlarged back):

    out_i = L_i F_i R_i^T,   L_i = U_s D_s K_sigma (H x H),  R_i likewise (W x W).

Backward sends dC/dout back through L_i^T G R_i, and each stroke pixel's gradient to the pixel it copied.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from glassnet._base.schema import Float
from glassnet.nn.layers import Layer, Shape, register

__all__ = ["Augment", "blur_matrix", "gaussian_blur", "resolution_matrix", "stroke_source", "warp"]

MAX_STROKE = 4
"""The widest pen change (pixels) ``thicken`` and ``thin`` accept."""


def _image_shape(shape: Shape) -> tuple[int, int, int]:
    """(channels, height, width) of per-sample shape (H*W,) (square), (H, W) or (C, H, W)."""
    if len(shape) == 1:
        side = math.isqrt(int(shape[0]))
        if side * side == shape[0] and side > 0:
            return 1, side, side
    elif len(shape) in (2, 3) and all(int(d) > 0 for d in shape):
        return (1, *shape) if len(shape) == 2 else tuple(shape)  # type: ignore[return-value]
    raise ValueError(f"Augment expects images of shape (n, H*W) with a square H*W, (n, H, W) or (n, C, H, W), "
                     f"got per-sample shape {tuple(shape)}")


def gaussian_blur(fields: np.ndarray, sigma: float) -> np.ndarray:
    """Each (H, W) field of ``fields`` (..., H, W) convolved with a Gaussian of width ``sigma`` pixels
    (zero outside), separably: G_H F G_W^T with G[a, b] = exp(-(a - b)^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)."""
    h, w = fields.shape[-2:]

    def kernel(m: int) -> np.ndarray:
        d = np.arange(m)[:, None] - np.arange(m)[None, :]
        return np.exp(-0.5 * (d / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma)

    return kernel(h) @ fields @ kernel(w).T


def _padded(x: np.ndarray) -> np.ndarray:
    """(n, C, H, W) images framed in zeros, one pixel above and left, two below and right: (n, C, (H+3)(W+3))."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 3, w + 3), x.dtype)
    out[:, :, 1:h + 1, 1:w + 1] = x
    return out.reshape(n, c, -1)


def _sampling(n: int, h: int, w: int, inverse: np.ndarray, shift: np.ndarray,
              displacement: np.ndarray | None, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """(index, weight), each (4, n, H*W): the 4 pixels that output pixel p of image i reads, as flat indices
    into the batch of images framed by ``_padded``, and their bilinear weights. A point outside the image is
    moved to the frame (at most 1 px out), where it reads zeros: no test of each neighbour is needed.
    ``inverse`` (n, 2, 2) is A^-1, ``shift`` (n, 2) is t = (tx, ty), ``displacement`` (n, 2, H, W) or None."""
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    py, px = np.divmod(np.arange(h * w, dtype=dtype), w)
    px -= cx
    py -= cy
    inverse = inverse.astype(dtype)
    offset = np.array([cx, cy], dtype) - np.einsum("nij,nj->ni", inverse, shift.astype(dtype))  # c - A^-1 t
    qx = inverse[:, 0, 0:1] * px
    qx += inverse[:, 0, 1:2] * py
    qx += offset[:, 0:1]
    qy = inverse[:, 1, 0:1] * px
    qy += inverse[:, 1, 1:2] * py
    qy += offset[:, 1:2]
    if displacement is not None:
        qx += displacement[:, 0].reshape(n, -1)
        qy += displacement[:, 1].reshape(n, -1)
    np.clip(qx, -1, w, out=qx)
    np.clip(qy, -1, h, out=qy)
    x0, y0 = np.floor(qx), np.floor(qy)
    fx, fy = qx - x0, qy - y0
    gx, gy = 1 - fx, 1 - fy
    weight = np.empty((4, n, h * w), dtype)
    np.multiply(gy, gx, out=weight[0])
    np.multiply(gy, fx, out=weight[1])
    np.multiply(fy, gx, out=weight[2])
    np.multiply(fy, fx, out=weight[3])
    row = w + 3
    y0 += 1
    y0 *= row
    y0 += x0
    y0 += 1  # (y0 + 1) (W + 3) + (x0 + 1): the top-left neighbour in the framed image
    base = y0.astype(np.intp)
    base += (np.arange(n) * ((h + 3) * row))[:, None]
    index = base[None] + np.array([0, 1, row, row + 1])[:, None, None]
    return index, weight


def _gather(x: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """out[i, c, p] = sum_k weight[k, i, p] xf[i, c, index[k, i, p]] for x of shape (n, C, H, W) and xf its
    framed images (a channel c reads the same pixels of its own plane)."""
    n, c = x.shape[:2]
    if c > 1:
        return np.stack([_gather(x[:, k:k + 1], index, weight)[:, 0] for k in range(c)], axis=1)
    vals = _padded(x).reshape(-1).take(index)
    vals *= weight.astype(x.dtype, copy=False)
    return vals.sum(axis=0).reshape(n, 1, index.shape[2])


def _inverse_affine(rotation: np.ndarray, scale: np.ndarray, shear: np.ndarray) -> np.ndarray:
    """A^-1 = (1/s) [[1, -k], [0, 1]] R(-theta) for A = s R(theta) [[1, k], [0, 1]], as (n, 2, 2)."""
    c, s = np.cos(rotation), np.sin(rotation)
    inv = np.empty((rotation.shape[0], 2, 2))
    inv[:, 0, 0], inv[:, 0, 1] = c + shear * s, s - shear * c
    inv[:, 1, 0], inv[:, 1, 1] = -s, c
    inv /= scale[:, None, None]
    return inv


def warp(images: Any, rotation: Any = 0.0, scale: Any = 1.0, shear: Any = 0.0, shift: Any = (0.0, 0.0),
         displacement: np.ndarray | None = None) -> np.ndarray:
    """``images`` (n, H*W), (n, H, W) or (n, C, H, W) moved by the given map (one value for all, or one per
    image): ``rotation`` in degrees, ``scale`` s, ``shear`` k, ``shift`` (tx, ty) in pixels (a digit moved
    by tx = 3 ends 3 pixels further right), and an optional elastic ``displacement`` (n, 2, H, W) of the
    sampling points in pixels (x then y). Returns a new array of the same shape and dtype."""
    x = np.asarray(images)
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"warp expects a float array of images (n, ...), got {x.dtype} of shape {x.shape}")
    n = x.shape[0]
    c, h, w = _image_shape(x.shape[1:])
    rot = np.deg2rad(np.broadcast_to(np.asarray(rotation, float), (n,)))
    inverse = _inverse_affine(rot, np.broadcast_to(np.asarray(scale, float), (n,)),
                              np.broadcast_to(np.asarray(shear, float), (n,)))
    index, weight = _sampling(n, h, w, inverse, np.broadcast_to(np.asarray(shift, float), (n, 2)),
                              displacement, x.dtype)
    return _gather(x.reshape(n, c, h, w), index, weight).reshape(x.shape)


def stroke_source(x: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Flat indices into ``x`` (n, C, H, W), shape (n, C, H*W): the pixel each output pixel copies under grey
    dilation (width[i] = d > 0) or erosion (d < 0) of image i by a (abs(d) + 1)-square (offsets -lo..abs(d) - lo,
    lo = floor(abs(d) / 2)), the window cut to the image; d = 0 copies the pixel itself."""
    n, c, h, w = x.shape
    base = (np.arange(n * c) * (h * w))[:, None] + np.arange(h * w)[None, :]
    source = base.reshape(n, c, h * w).copy()
    for d in np.unique(width):
        if d == 0:
            continue
        rows = np.flatnonzero(width == d)
        k = abs(int(d)) + 1
        lo = (k - 1) // 2
        fill = -np.inf if d > 0 else np.inf
        pad = np.full((rows.size, c, h + k - 1, w + k - 1), fill)
        pad[:, :, lo:lo + h, lo:lo + w] = x[rows]
        windows = np.stack([pad[:, :, dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)])
        pick = windows.argmax(axis=0) if d > 0 else windows.argmin(axis=0)  # the first of ties: deterministic
        dy, dx = np.divmod(pick, k)
        yy = np.arange(h)[:, None] + dy - lo
        xx = np.arange(w)[None, :] + dx - lo
        plane = (rows[:, None] * c + np.arange(c)[None, :]) * (h * w)
        source[rows] = (plane[:, :, None, None] + yy * w + xx).reshape(rows.size, c, h * w)
    return source


def blur_matrix(m: int, sigma: Any) -> np.ndarray:
    """(m, m) K with K[a, b] = exp(-(a - b)^2 / (2 sigma^2)), each row summing to 1 (the identity for
    sigma ~ 0); for an array of sigmas, (n, m, m), one K each."""
    sig = np.asarray(sigma, float)
    d = (np.arange(m)[:, None] - np.arange(m)[None, :]) ** 2
    k = np.exp(-0.5 * d / np.maximum(sig, 1e-3)[..., None, None] ** 2)
    k /= k.sum(axis=-1, keepdims=True)
    return np.where((sig < 1e-3)[..., None, None], np.eye(m), k)


@functools.lru_cache(maxsize=64)
def _resolution(m: int, side: int) -> np.ndarray:
    return resolution_matrix(m, side)


def resolution_matrix(m: int, side: int) -> np.ndarray:
    """(m, m) U D: m pixels averaged down to ``side`` (D: each small pixel the mean of the stretch of length
    m/side it covers) and enlarged back by linear interpolation between small-pixel centres (U, ends held)."""
    edges = np.arange(side + 1) * (m / side)
    lo, hi = edges[:-1, None], edges[1:, None]
    a = np.arange(m)[None, :]
    down = np.clip(np.minimum(hi, a + 1) - np.maximum(lo, a), 0, None) * (side / m)
    q = np.clip((np.arange(m) + 0.5) * (side / m) - 0.5, 0, side - 1)
    j0 = np.minimum(np.floor(q).astype(int), side - 2) if side > 1 else np.zeros(m, int)
    f = q - j0
    up = np.zeros((m, side))
    up[np.arange(m), j0] += 1 - f
    if side > 1:
        up[np.arange(m), j0 + 1] += f
    return up @ down


@register
class Augment(Layer):
    """Random distortions of training images: every image of every batch its own rotation (uniform in
    +-``rotate`` degrees), scale (uniform in 1 +- ``scale``), shear (k uniform in +-``shear``), shift (each
    axis uniform in +-``shift`` pixels) and, with ``alpha`` > 0, an elastic distortion (alpha, sigma as in
    Simard et al. 2003, who used 34 and 4 on MNIST). The identity at inference.

    Takes (n, H*W) (square images, as MNIST's 784), (n, H, W) or (n, C, H, W) and returns the same shape;
    every channel of an image moves alike. Glass box: ``transform`` holds the last batch's drawn values,
    ``index`` and ``weight`` its sampling (see ``_sampling``); ``frozen = True`` reuses them (for
    gradient checks).
    """

    identity_at_inference = True
    config_schema = {"shift": Float(0), "rotate": Float(0, 180), "scale": Float(0, 1, high_open=True),
                     "shear": Float(0), "alpha": Float(0), "sigma": Float(0, low_open=True),
                     "thicken": Float(0, MAX_STROKE), "thin": Float(0, MAX_STROKE), "blur": Float(0),
                     "lowres": Float(0, 1)}

    def __init__(self, shift: float = 2.0, rotate: float = 10.0, scale: float = 0.1, shear: float = 0.15,
                 alpha: float = 0.0, sigma: float = 4.0, thicken: float = 0.0, thin: float = 0.0,
                 blur: float = 0.0, lowres: float = 0.0, name: str | None = None) -> None:
        super().__init__(name)
        values = {"shift": shift, "rotate": rotate, "scale": scale, "shear": shear, "alpha": alpha, "sigma": sigma,
                  "thicken": thicken, "thin": thin, "blur": blur, "lowres": lowres}
        for key, v in values.items():
            if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0):
                raise ValueError(f"Augment {key} must be a finite number >= 0, got {v!r}")
        if not scale < 1 or not rotate <= 180 or not sigma > 0:
            raise ValueError(f"Augment needs scale < 1, rotate <= 180 and sigma > 0, got scale={scale}, "
                             f"rotate={rotate}, sigma={sigma}")
        for key in ("thicken", "thin"):
            if values[key] != int(values[key]) or values[key] > MAX_STROKE:
                raise ValueError(f"Augment {key} must be a whole number of pixels in 0..{MAX_STROKE}, "
                                 f"got {values[key]!r}")
        if not lowres <= 1:
            raise ValueError(f"Augment lowres is a probability in [0, 1], got {lowres!r}")
        self.shift, self.rotate, self.scale, self.shear = float(shift), float(rotate), float(scale), float(shear)
        self.alpha, self.sigma = float(alpha), float(sigma)
        self.thicken, self.thin, self.blur, self.lowres = float(thicken), float(thin), float(blur), float(lowres)
        self.frozen = False
        self.transform: dict[str, np.ndarray] | None = None
        self.index: np.ndarray | None = None
        self.weight: np.ndarray | None = None
        self.source: np.ndarray | None = None  # the stroke change's copied pixels (thicken or thin > 0)
        self.left: np.ndarray | None = None  # L_i (n, H, H) and R_i (n, W, W) of blur and lowres
        self.right: np.ndarray | None = None
        self._dtype: np.dtype = np.dtype(np.float32)

    @classmethod
    def from_spec(cls, spec: str) -> Augment:
        """The layer of a spec such as ``"shift=2,rotate=10,alpha=34"`` (keys as the constructor's; the
        others keep their defaults); ``"on"`` or ``""``: all defaults."""
        kwargs: dict[str, float] = {}
        for part in filter(None, (s.strip() for s in spec.split(","))):
            if part == "on":
                continue
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in cls.config_schema:
                raise ValueError(f"augmentation spec expects KEY=NUMBER items with keys "
                                 f"{', '.join(cls.config_schema)}, got {part!r}")
            try:
                kwargs[key.strip()] = float(value)
            except ValueError:
                raise ValueError(f"augmentation spec {key.strip()} expects a number, got {value!r}") from None
        return cls(**kwargs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _image_shape(input_shape)
        return input_shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        if not training:
            self.output = x
            return x
        n = x.shape[0]
        c, h, w = _image_shape(x.shape[1:])
        if not (self.frozen and self.index is not None and self.index.shape[1:] == (n, h * w)):
            self._dtype = x.dtype
            self._draw(n, h, w)
            self.source = None
            if self.thicken or self.thin:
                self.source = stroke_source(x.reshape(n, c, h, w), self.transform["stroke"])
        image = x.reshape(n, c, h, w)
        if self.source is not None:
            image = x.reshape(-1).take(self.source).reshape(n, c, h, w)
        out = _gather(image, self.index, self.weight).reshape(n, c, h, w)
        if self.left is not None:
            out = self.left.astype(x.dtype, copy=False)[:, None] @ out @ self.right.astype(
                x.dtype, copy=False).transpose(0, 2, 1)[:, None]
        self.output = out.reshape(x.shape)
        return self.output

    def _draw(self, n: int, h: int, w: int) -> None:
        rng = self.rng
        t = {"rotation": rng.uniform(-self.rotate, self.rotate, n), "scale": rng.uniform(
            1 - self.scale, 1 + self.scale, n), "shear": rng.uniform(-self.shear, self.shear, n),
            "shift": rng.uniform(-self.shift, self.shift, (n, 2))}
        disp = None
        if self.alpha:
            disp = gaussian_blur(rng.uniform(-1.0, 1.0, (n, 2, h, w)), self.sigma)
            disp *= self.alpha
            t["displacement"] = disp
        if self.thicken or self.thin:
            t["stroke"] = rng.integers(-int(self.thin), int(self.thicken) + 1, n)
        self.left = self.right = None
        if self.blur or self.lowres:
            t["blur"] = rng.uniform(0.0, self.blur, n) if self.blur else np.zeros(n)
            t["side"] = np.zeros(n, int)  # 0: full resolution
            if self.lowres:
                lost = rng.random(n) < self.lowres
                t["side"] = np.where(lost, rng.integers(max(2, round(h / 4)), max(2, round(4 * h / 7)) + 1, n), 0)
            self.left, self.right = (self._softness(m, t["blur"], t["side"] * m // h) for m in (h, w))
        inverse = _inverse_affine(np.deg2rad(t["rotation"]), t["scale"], t["shear"])
        self.transform = t
        self.index, self.weight = _sampling(n, h, w, inverse, t["shift"], disp, self._dtype)

    @staticmethod
    def _softness(m: int, sigma: np.ndarray, side: np.ndarray) -> np.ndarray:
        """(n, m, m): U_s D_s K_sigma for an axis of m pixels, one per image (side 0: no resolution loss)."""
        k = blur_matrix(m, sigma)
        for s in np.unique(side[side > 0]):
            k[side == s] = _resolution(m, int(s)) @ k[side == s]
        return k

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        """dC/dx[i, c, j] = sum over (k, p) with index[k, i, p] = j of weight[k, i, p] dC/dout[i, c, p]."""
        if not self.needs_input_grad:
            return None
        if self.index is None or self.output is self.input:
            return grad
        x = self.input
        n = x.shape[0]
        c, h, w = _image_shape(x.shape[1:])
        size = n * (h + 3) * (w + 3)
        if self.left is not None:  # through out = L G R^T: dC/dG = L^T dC/dout R
            grad = (self.left.transpose(0, 2, 1)[:, None] @ grad.reshape(n, c, h, w) @ self.right[:, None])
        g = grad.reshape(n, c, h * w).transpose(1, 0, 2).reshape(c, 1, n, h * w)
        planes = [np.bincount(self.index.ravel(), (gc * self.weight).ravel(), minlength=size) for gc in g]
        framed = np.stack(planes).reshape(c, n, h + 3, w + 3)[:, :, 1:h + 1, 1:w + 1]  # the frame's share: none
        back = framed.transpose(1, 0, 2, 3)
        if self.source is not None:
            back = np.bincount(self.source.ravel(), back.ravel(), minlength=x.size)
        return back.astype(grad.dtype).reshape(x.shape)

    def get_config(self) -> dict[str, Any]:
        return {"shift": self.shift, "rotate": self.rotate, "scale": self.scale, "shear": self.shear,
                "alpha": self.alpha, "sigma": self.sigma, "thicken": self.thicken, "thin": self.thin,
                "blur": self.blur, "lowres": self.lowres, "name": self.name}

    def describe(self) -> str:
        elastic = f", elastic {self.alpha:g}/{self.sigma:g}" if self.alpha else ""
        pen = f", pen -{self.thin:g}..+{self.thicken:g}px" if self.thicken or self.thin else ""
        soft = f", blur {self.blur:g}" if self.blur else ""
        soft += f", lowres {self.lowres:g}" if self.lowres else ""
        return f"Augment(+-{self.shift:g}px, +-{self.rotate:g}deg{elastic}{pen}{soft})"
