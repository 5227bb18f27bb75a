"""Simulated desk-camera frames holding QR codes, for testing and benchmarking ``edge.qr``.

A frame is composed the way a cheap camera sees a phone or a printed code held over a
desk: a textured desk background (wood grain, a keyboard-like block, a lighting gradient),
one or more QR codes on a white quiet zone, each placed by a homography (scale, rotation,
perspective skew), then camera effects: 2x supersampled and area-downscaled like a sensor,
Gaussian defocus blur, sensor noise and JPEG compression (in memory; nothing is written).

``size`` is the width in pixels of the QR *symbol* (finder edge to finder edge, without
the quiet zone) along its longer projected side: ``size=80`` is the issue's "small" case.
Everything is a pure function of its arguments and a seed, so a failing variant can be
replayed exactly. Used by tests/qr and bench/qr.py; ``python -m firmware_sim.camera``
prints what each variant contains.
"""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

__all__ = [
    "VARIANTS", "Placement", "SimFrame", "Variant", "camera_frame", "desk_background",
    "qr_modules", "sample_token", "variant_frame",
]

Image = npt.NDArray[np.uint8]
_SUPERSAMPLE = 2
_QUIET_MODULES = 4
_EC_LEVELS = {"L": ERROR_CORRECT_L, "M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q,
              "H": ERROR_CORRECT_H}


def sample_token(rng: random.Random, *, payload_bytes: int = 24, sig_bytes: int = 16) -> str:
    """A Deskpulse-shaped check-in token: ``dp1.<payload b64url>.<signature b64url>``.

    The simulator only needs the *shape* (length and alphabet decide the QR version);
    the hub owns the real format and its verification. Default: 4 + 32 + 1 + 22 = 59 chars.
    """
    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(rng.randbytes(n)).rstrip(b"=").decode()

    return f"dp1.{b64(payload_bytes)}.{b64(sig_bytes)}"


def qr_modules(text: str, *, error_correction: str = "M") -> npt.NDArray[np.bool_]:
    """The QR symbol's modules (True = dark), without a quiet zone."""
    code = qrcode.QRCode(error_correction=_EC_LEVELS[error_correction], border=0)
    code.add_data(text)
    code.make(fit=True)
    return np.array(code.get_matrix(), dtype=bool)


def desk_background(rng: np.random.Generator, width: int = 640, height: int = 480) -> Image:
    """A BGR desk: wood grain, a dark keyboard-like block with keys, a lighting gradient."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    grain = (np.sin(x / rng.uniform(6, 14) + 3 * np.sin(y / rng.uniform(40, 90) + phase)) * 12
             + rng.normal(0, 4, (height, width)))
    base = np.array(rng.uniform([90, 120, 150], [120, 150, 190]), dtype=np.float32)
    img = base[None, None, :] + grain[..., None]
    # A keyboard: dark block with a grid of lighter keys (edges that look a bit like codes).
    kx, ky = int(rng.uniform(0, width * 0.5)), int(rng.uniform(height * 0.55, height * 0.7))
    kw, kh = int(width * 0.45), int(height * 0.25)
    img[ky:ky + kh, kx:kx + kw] = 40
    for row in range(ky + 6, ky + kh - 14, 18):
        for col in range(kx + 6, kx + kw - 14, 18):
            img[row:row + 13, col:col + 13] = 70
    light = 0.75 + 0.35 * (x / width) * (1 - 0.3 * y / height) + rng.uniform(-0.05, 0.05)
    img *= light[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Placement:
    """Where one code lands: ``corners`` are the symbol's 4 corners (x, y) in the frame."""

    text: str
    corners: tuple[tuple[float, float], ...]
    size: float


@dataclass(frozen=True)
class SimFrame:
    image: Image
    placements: tuple[Placement, ...]

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.placements]


def _code_image(modules: npt.NDArray[np.bool_], module_px: int) -> Image:
    """Code plus white quiet zone, ``module_px`` pixels per module, gray uint8."""
    padded = np.pad(modules, _QUIET_MODULES, constant_values=False)
    img = np.where(padded, 25, 235).astype(np.uint8)  # ink is never pure black on paper
    return np.kron(img, np.ones((module_px, module_px), dtype=np.uint8))


def _target_quad(
    center: tuple[float, float], size: float, rotation: float, skew: float,
    rng: np.random.Generator,
) -> npt.NDArray[np.float32]:
    """The symbol's corners: a square of side ``size`` rotated by ``rotation`` degrees,
    then each corner pulled by up to ``skew`` x size (a code tilted towards the camera)."""
    half = size / 2
    square = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], np.float32)
    # Tilt: shrink one edge and widen the opposite one, like a plane seen at an angle.
    if skew:
        a = int(rng.integers(4))
        b = (a + 1) % 4
        mid = (square[a] + square[b]) / 2
        pull = skew * rng.uniform(0.6, 1.0)
        square[[a, b]] += (mid - square[[a, b]]) * pull
        square += rng.uniform(-skew, skew, (4, 2)).astype(np.float32) * size * 0.15
    theta = math.radians(rotation)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]],
                   np.float32)
    quad = square @ rot.T + np.array(center, np.float32)
    return quad.astype(np.float32)


def _paste(canvas: npt.NDArray[np.float32], code: Image, symbol_px: int,
           quad: npt.NDArray[np.float32]) -> None:
    """Warp ``code`` (symbol of ``symbol_px`` px inside a quiet zone) onto ``quad``,
    working only inside the bounding box of the code's projected outline."""
    q0 = (code.shape[0] - symbol_px) / 2
    src = np.array([[q0, q0], [q0 + symbol_px, q0], [q0 + symbol_px, q0 + symbol_px],
                    [q0, q0 + symbol_px]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, quad)
    side = code.shape[0]
    outline = cv2.perspectiveTransform(
        np.array([[[0, 0], [side, 0], [side, side], [0, side]]], np.float32), matrix)[0]
    h, w = canvas.shape[:2]
    x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + 2, (w, h))
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    local = shift @ matrix
    size = (int(x1 - x0), int(y1 - y0))
    warped = cv2.warpPerspective(code, local, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full(code.shape, 255, np.uint8), local, size,
                               flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    region = canvas[y0:y1, x0:x1]
    region[...] = region * (1 - alpha) + warped[..., None].astype(np.float32) * alpha


def camera_frame(
    texts: Sequence[str],
    *,
    seed: int = 0,
    size: float = 160,
    rotation: float = 0.0,
    skew: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    jpeg: int = 90,
    width: int = 640,
    height: int = 480,
    gray: bool = False,
    error_correction: str = "M",
) -> SimFrame:
    """Compose one camera frame holding ``texts`` as QR codes, without overlaps.

    ``rotation`` is degrees (each code gets it +/- 10); ``skew`` 0..0.4 tilts each code;
    ``blur`` is the Gaussian sigma in output pixels; ``noise`` the sensor noise sigma in
    grey levels; ``jpeg`` the in-memory JPEG quality (0 = none).
    """
    rng = np.random.default_rng(seed)
    s = _SUPERSAMPLE
    canvas = cv2.resize(desk_background(rng, width, height), (width * s, height * s),
                        interpolation=cv2.INTER_LINEAR).astype(np.float32)
    placements: list[Placement] = []
    taken: list[tuple[float, float, float]] = []
    for text in texts:
        modules = qr_modules(text, error_correction=error_correction)
        n = modules.shape[0]
        module_px = max(2, math.ceil(size * s * 1.5 / n))
        code = _code_image(modules, module_px)
        # Diagonal of the code with its quiet zone: codes this far apart never overlap.
        footprint = size * s * (n + 2 * _QUIET_MODULES) / n * math.sqrt(2) * (1 + skew / 2)
        for _ in range(2000):
            cx = rng.uniform(footprint / 2, width * s - footprint / 2)
            cy = rng.uniform(footprint / 2, height * s - footprint / 2)
            if all(math.hypot(cx - ox, cy - oy) > (footprint + of) / 2 for ox, oy, of in taken):
                break
        else:
            raise ValueError("these codes do not fit in the frame without overlapping")
        taken.append((cx, cy, footprint))
        angle = rotation + rng.uniform(-10, 10) if rotation else rng.uniform(-3, 3)
        quad = _target_quad((cx, cy), size * s, angle, skew, rng)
        _paste(canvas, code, n * module_px, quad)
        sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1) / s
        placements.append(Placement(text, tuple((float(x) / s, float(y) / s) for x, y in quad),
                                    float(sides.max())))
    img = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise:
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        img = img if decoded is None else decoded
    if gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return SimFrame(np.ascontiguousarray(img, dtype=np.uint8), tuple(placements))


@dataclass(frozen=True)
class Variant:
    """A named family of frames (one row of the issue's "Done when")."""

    name: str
    codes: int = 1
    params: Mapping[str, float | int | bool] = field(default_factory=dict)
    stress: bool = False  # beyond the "Done when": for decode_frame(thorough=True)


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("plain", 1, {"size": 160}),
    Variant("gray", 1, {"size": 140, "gray": True}),
    Variant("rotated", 1, {"size": 140, "rotation": 40}),
    Variant("upside-down", 1, {"size": 140, "rotation": 180}),
    Variant("skewed", 1, {"size": 150, "skew": 0.3, "rotation": 15}),
    Variant("blurred", 1, {"size": 140, "blur": 1.5}),
    Variant("noisy", 1, {"size": 140, "noise": 18.0}),
    Variant("small", 1, {"size": 80}),
    Variant("small-rotated", 1, {"size": 80, "rotation": 30}),
    Variant("several", 3, {"size": 110, "rotation": 20}),
    Variant("several-small", 4, {"size": 80, "rotation": 10}),
    Variant("combined", 2, {"size": 100, "rotation": 25, "skew": 0.2, "blur": 1.0,
                            "noise": 10.0}),
    Variant("tiny", 1, {"size": 56}, stress=True),
    Variant("small-blurred", 1, {"size": 80, "blur": 1.2}, stress=True),
    Variant("very-blurred", 1, {"size": 140, "blur": 2.0}, stress=True),
)}


def variant_frame(name: str, seed: int, *, token_rng: random.Random | None = None,
                  **overrides: float | int | bool) -> SimFrame:
    """Frame number ``seed`` of variant ``name``, with fresh Deskpulse-shaped tokens."""
    variant = VARIANTS[name]
    rng = token_rng or random.Random(seed * 7919 + sum(map(ord, name)))
    texts = [sample_token(rng) for _ in range(variant.codes)]
    params = dict(variant.params) | overrides
    return camera_frame(texts, seed=seed, **params)  # type: ignore[arg-type]


def _main() -> None:
    for name, variant in VARIANTS.items():
        frame = variant_frame(name, 0)
        print(f"{name:14} codes={variant.codes} shape={frame.image.shape} "
              f"sizes={[round(p.size) for p in frame.placements]} {dict(variant.params)}")


if __name__ == "__main__":
    _main()
