"""Dense image warps driven by moved landmarks: piecewise affine (Delaunay) or thin-plate spline.

Both build a backward map (for each output pixel, where to read in the source) over a region of
interest only and leave every pixel outside it untouched, so a warp of the lower face costs what
the face costs, not what the frame costs. Points that should not move (the upper face, a frame of
points on the region's border) are passed with the same source and destination position.

- ``pwa``: one affine map per Delaunay triangle of the destination points; exact at the points and
  exactly the identity in triangles whose corners do not move. The map is built per pixel of the
  region (a triangle-index raster and a lookup), about 3 ms for a 300 px face.
- ``tps``: a thin-plate spline through the points, smooth everywhere (no kinks along triangle
  edges). It is evaluated on a grid every ``step`` pixels and interpolated, which at 8 px differs
  from the exact spline by far less than a pixel; its displacement is faded out over the region's
  outer band so the region's border joins the untouched frame without a seam.

benchmarks/testset_methods.py measures both at 720p.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

WarpMethod = Literal["pwa", "tps"]
Roi = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), in frame pixels


def roi_around(points: np.ndarray, shape: tuple[int, ...], pad: float) -> Roi:
    """Bounding box of ``points`` grown by ``pad`` times its larger side on every edge, clipped to the frame."""
    pts = np.asarray(points, np.float64)
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    grow = pad * max(x1 - x0, y1 - y0, 1.0)
    h, w = shape[:2]
    return (max(0, int(np.floor(x0 - grow))), max(0, int(np.floor(y0 - grow))),
            min(w, int(np.ceil(x1 + grow)) + 1), min(h, int(np.ceil(y1 + grow)) + 1))


def border_points(roi: Roi, per_side: int = 4) -> np.ndarray:
    """Points along the region's border (corners included), used as fixed anchors."""
    x0, y0, x1, y1 = roi
    xs = np.linspace(x0, x1 - 1, per_side + 1)
    ys = np.linspace(y0, y1 - 1, per_side + 1)
    top = np.stack([xs, np.full_like(xs, y0)], 1)
    bottom = np.stack([xs, np.full_like(xs, y1 - 1)], 1)
    left = np.stack([np.full_like(ys[1:-1], x0), ys[1:-1]], 1)
    right = np.stack([np.full_like(ys[1:-1], x1 - 1), ys[1:-1]], 1)
    return np.concatenate([top, bottom, left, right]).astype(np.float64)


def ring_points(centre: np.ndarray, radii: tuple[float, float], n: int = 16) -> np.ndarray:
    """``n`` points on an ellipse (half-axes ``radii``) around ``centre``."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.stack([centre[0] + radii[0] * np.cos(t), centre[1] + radii[1] * np.sin(t)], 1)


def delaunay(points: np.ndarray) -> np.ndarray:
    """Triangles (T, 3) of point indices; duplicate points keep the first index."""
    pts = np.asarray(points, np.float64)
    lo, hi = pts.min(0) - 1.0, pts.max(0) + 2.0
    sub = cv2.Subdiv2D((int(np.floor(lo[0])), int(np.floor(lo[1])), int(np.ceil(hi[0] - lo[0])) + 1,
                        int(np.ceil(hi[1] - lo[1])) + 1))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(pts):
        key = (round(float(x), 3), round(float(y), 3))
        if key not in index:
            index[key] = i
            sub.insert((float(x), float(y)))
    tris = []
    for t in sub.getTriangleList():
        corners = [index.get((round(float(t[k]), 3), round(float(t[k + 1]), 3))) for k in (0, 2, 4)]
        if None not in corners and len(set(corners)) == 3:
            tris.append(corners)
    return np.asarray(tris, np.int32).reshape(-1, 3)


def _affines(src: np.ndarray, dst: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Per triangle, the 2x3 affine that maps its destination corners onto its source corners."""
    d = dst[tris]  # (T, 3, 2)
    s = src[tris]
    a = np.concatenate([d, np.ones((len(tris), 3, 1))], axis=2)  # (T, 3, 3)
    ok = np.abs(np.linalg.det(a)) > 1e-9
    out = np.zeros((len(tris), 2, 3))
    out[:, 0, 0] = out[:, 1, 1] = 1.0  # degenerate triangles: identity
    if ok.any():
        out[ok] = np.transpose(np.linalg.solve(a[ok], s[ok]), (0, 2, 1))
    return out


def _grid(roi: Roi, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes every ``step`` pixels from the region's first pixel to (at least) its last."""
    x0, y0, x1, y1 = roi
    gx = x0 + step * np.arange(-(-(x1 - x0 - 1) // step) + 1, dtype=np.float64)
    gy = y0 + step * np.arange(-(-(y1 - y0 - 1) // step) + 1, dtype=np.float64)
    return gx, gy


def _upsample(small: np.ndarray, roi: Roi, step: int) -> np.ndarray:
    """Linear interpolation of grid values onto every pixel of ``roi`` (exact for a linear map:
    with ``step`` a power of two the pixel positions are exact in OpenCV's 1/32 px weights)."""
    x0, y0, x1, y1 = roi
    if step == 1:
        return small[: y1 - y0, : x1 - x0]
    m = np.array([[1.0 / step, 0, 0], [0, 1.0 / step, 0]])
    return cv2.warpAffine(small, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def pwa_maps(src: np.ndarray, dst: np.ndarray, roi: Roi, tris: np.ndarray | None = None,
             step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (float32, roi-sized, in frame pixels) of a piecewise-affine warp src -> dst.

    The map is computed every ``step`` pixels and interpolated linearly; being continuous and
    piecewise linear, it is exact inside triangles and off by a fraction of a pixel along edges.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    tris = delaunay(dst) if tris is None else tris
    aff = _affines(src, dst, tris).astype(np.float32)
    gx, gy = _grid(roi, step)
    gw, gh = len(gx), len(gy)
    on_grid = (dst - (gx[0], gy[0])) / step  # triangle index raster on the grid
    dtype = np.uint8 if len(tris) < 255 else np.uint16
    none = np.iinfo(dtype).max
    label = np.full((gh, gw), none, dtype)
    fixed = np.round(on_grid * 16).astype(np.int32)
    for k, t in enumerate(tris):
        cv2.fillConvexPoly(label, fixed[t], int(k), lineType=cv2.LINE_8, shift=4)
    holes = label == none
    if holes.any():  # nodes outside every triangle (the region's rim): borrow a neighbour's map
        grown = cv2.erode(label, np.ones((3, 3), np.uint8), iterations=2)
        label[holes] = grown[holes]
    inside = label != none
    lab = np.where(inside, label, 0).astype(np.intp)
    xs = gx.astype(np.float32)[None, :]
    ys = gy.astype(np.float32)[:, None]
    c = [aff[:, i // 3, i % 3][lab] for i in range(6)]
    mx = np.where(inside, c[0] * xs + c[1] * ys + c[2], xs)
    my = np.where(inside, c[3] * xs + c[4] * ys + c[5], ys)
    return _upsample(mx.astype(np.float32), roi, step), _upsample(my.astype(np.float32), roi, step)


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r^2 (0 at r = 0)."""
    return r2 * np.log(r2 + 1e-30)


def tps_maps(src: np.ndarray, dst: np.ndarray, roi: Roi, step: int = 8, fade: float = 0.1,
             smooth: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps of a thin-plate-spline warp src -> dst over ``roi``.

    Displacement, not position, is interpolated (so far from the points it tends to a plane,
    which the fixed border points pin near zero), evaluated every ``step`` pixels, then
    multiplied by a window that falls from 1 to 0 over the outer ``fade`` fraction of the region:
    the border is exactly the identity.
    """
    x0, y0, x1, y1 = roi
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    centre = dst.mean(0)
    scale = float(max(x1 - x0, y1 - y0, 1))
    p = (dst - centre) / scale  # well conditioned: coordinates of order 1
    n = len(p)
    k = _tps_kernel(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)) + smooth * np.eye(n)
    pm = np.hstack([np.ones((n, 1)), p])
    system = np.zeros((n + 3, n + 3))
    system[:n, :n], system[:n, n:], system[n:, :n] = k, pm, pm.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = (src - dst) / scale
    # OpenCV's LU, not numpy's: OpenBLAS threads a 130x130 solve and, on a busy 2-core machine,
    # waits for its second thread (measured 12 ms vs 0.1 ms single-threaded)
    ok, coef = cv2.solve(system, rhs, flags=cv2.DECOMP_LU)
    if not ok:  # coincident points
        coef = cv2.solve(system, rhs, flags=cv2.DECOMP_SVD)[1]
    gx, gy = _grid(roi, step)
    q = np.stack(np.meshgrid((gx - centre[0]) / scale, (gy - centre[1]) / scale), -1).reshape(-1, 2).astype(np.float32)
    pf = p.astype(np.float32)
    r2 = (q[:, None, 0] - pf[None, :, 0]) ** 2 + (q[:, None, 1] - pf[None, :, 1]) ** 2
    d = (_tps_kernel(r2) @ coef[:n].astype(np.float32) + q @ coef[n + 1:].astype(np.float32) + coef[n]) * scale
    dx = _upsample(d[:, 0].reshape(len(gy), len(gx)).astype(np.float32), roi, step)
    dy = _upsample(d[:, 1].reshape(len(gy), len(gx)).astype(np.float32), roi, step)
    if fade > 0:
        win = _window(x1 - x0, y1 - y0, fade)
        dx *= win
        dy *= win
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    return dx + xs, dy + ys


def _window(w: int, h: int, fade: float) -> np.ndarray:
    """1 inside, smoothly 0 at the border, over ``fade`` of each side."""
    def ramp(n: int) -> np.ndarray:
        band = max(1.0, fade * n)
        t = np.arange(n, dtype=np.float32)
        r = np.clip(np.minimum(t, n - 1 - t) / band, 0.0, 1.0)
        return r * r * (3 - 2 * r)

    return ramp(h)[:, None] * ramp(w)[None, :]


def warp_maps(src: np.ndarray, dst: np.ndarray, roi: Roi, method: WarpMethod,
              tris: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    if method == "pwa":
        return pwa_maps(src, dst, roi, tris)
    if method == "tps":
        return tps_maps(src, dst, roi)
    raise ValueError(f"unknown warp {method!r}; use 'pwa' or 'tps'")


def remap_region(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray], roi: Roi,
                 out: np.ndarray | None = None) -> np.ndarray:
    """``image`` with its ``roi`` replaced by the warped read through ``maps`` (a copy unless ``out``)."""
    x0, y0, x1, y1 = roi
    res = image.copy() if out is None else out
    res[y0:y1, x0:x1] = cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return res
