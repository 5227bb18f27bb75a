"""Find and decode every QR code in one camera frame: pure, over a numpy array.

``decode_frame(frame)`` takes a grayscale ``(H, W)`` / ``(H, W, 1)`` or BGR(A)
``(H, W, 3|4)`` uint8 frame and returns the decoded strings, de-duplicated, in reading
order (top to bottom, then left to right, by each code's centre). It never raises: a frame
that is not such an array (wrong dtype or shape, empty, too small or too large) gives
``[]``, and an OpenCV failure inside a pass only ends that pass.

Backends, chosen by measurement (bench/qr.py, docs/checkin.md "Decoding backends"):
zxing-cpp, when installed, decodes every camera-like variant of firmware_sim/camera.py
(rotated, skewed, blurred, noisy, small, several per frame) at 10-20x the frame rate of
the OpenCV passes below, so ``backend="auto"`` uses it, and the OpenCV passes are the
fallback when zxing-cpp is not installed. OpenCV still does capture, grayscale
conversion and the sharpening. The zxing-cpp passes:

1. the grayscale frame as it is, then the frame sharpened (unsharp mask, sigma 1 px):
   the second finds small codes that are also blurred (80 px, defocused), which the first
   misses, for about 1 ms more per frame at 640x480;
2. only with ``thorough=True``: the frame upscaled 2x and sharpened, for codes below
   ~60 px.

OpenCV passes, cheapest first (measured on the same simulated frames):

1. OpenCV's ArUco-based detector (``cv2.QRCodeDetectorAruco``; the classic
   ``cv2.QRCodeDetector`` where it is missing) finds and decodes all codes in the
   grayscale frame. It *locates* codes far more often than it decodes them when they are
   small, blurred or noisy.
2. Rescue: every code located but not decoded is perspective-rectified into an upscaled
   square crop and decoded again, first sharpened (unsharp mask), then sharpened and
   binarised (adaptive threshold), then as is, then strongly sharpened and binarised.
   Crops are small, so this is cheap.
3. Only with ``thorough=True``: the whole frame upscaled 2x and sharpened, passes 1-2
   again. This finds codes below ~70 px or defocused beyond what the rescue can undo,
   but costs three to four times as much, so a camera loop runs it on every Nth frame.
   (A plain sharpened full-frame pass was tried and found almost nothing the rescue
   had not already found.)

The frame is only read; nothing is kept, written or logged about its content. The
decoded strings are untrusted input: edge.qr.scans decides which of them are tokens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt


def _load_zxing() -> Any:
    """The zxingcpp module, or None: decode_frame falls back to OpenCV without it."""
    try:
        import zxingcpp
    except ImportError:  # pragma: no cover - depends on the installation
        return None
    return zxingcpp


zxingcpp: Any = _load_zxing()

__all__ = ["BACKENDS", "MAX_SIDE", "MIN_SIDE", "UPSCALE_MAX_SIDE", "decode_frame",
           "default_backend", "to_gray"]

log = logging.getLogger(__name__)

MIN_SIDE = 21  # the smallest QR symbol is 21 x 21 modules: anything smaller holds none
MAX_SIDE = 4096  # larger frames are refused rather than stall the agent
UPSCALE_MAX_SIDE = 1280  # the thorough pass's 2x upscale is skipped above this
_RESCUE_MIN, _RESCUE_MAX = 240, 400  # side of the rectified crop of one located code
_RESCUE_MARGIN = 0.25  # quiet zone around the crop, as a fraction of its side

Gray = npt.NDArray[np.uint8]
Quad = npt.NDArray[np.float32]
Found = tuple[str, Quad]

_local = threading.local()


def _detector() -> Any:
    """One detector per thread: OpenCV detector objects are not safe to share."""
    detector = getattr(_local, "detector", None)
    if detector is None:
        factory = getattr(cv2, "QRCodeDetectorAruco", None) or cv2.QRCodeDetector
        detector = _local.detector = factory()
    return detector


def to_gray(frame: object) -> Gray | None:
    """The frame as a contiguous 2-D uint8 image, or None if it is not a usable frame."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        return None
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3):
        return None
    height, width = frame.shape[:2]
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        return None
    try:
        if frame.ndim == 3:
            channels = frame.shape[2]
            if channels not in (3, 4):
                return None
            code = cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY
            return np.asarray(cv2.cvtColor(np.ascontiguousarray(frame), code), dtype=np.uint8)
        return np.ascontiguousarray(frame)
    except (cv2.error, ValueError, TypeError):
        log.debug("frame could not be converted to grayscale", exc_info=True)
        return None


def _sharpen(gray: Gray, sigma: float = 2.0, amount: float = 1.5) -> Gray:
    """Unsharp mask: restores module edges softened by defocus or motion blur."""
    blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
    return np.asarray(cv2.addWeighted(gray, 1 + amount, blurred, -amount, 0), dtype=np.uint8)


def _binarise(gray: Gray) -> Gray:
    """Local threshold: evens out glare and shadows across a code."""
    return np.asarray(cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 5), dtype=np.uint8)


def _quads(points: object) -> list[Quad]:
    """OpenCV's corner output as a list of finite (4, 2) float32 quads."""
    if points is None:
        return []
    array = np.asarray(points, dtype=np.float32).reshape(-1, 4, 2)
    return [quad for quad in array if np.isfinite(quad).all()]


def _detect_and_decode(gray: Gray) -> tuple[list[Found], list[Quad]]:
    """One detector pass: (decoded codes with their corners, corners of undecoded codes)."""
    try:
        ok, texts, points, _ = _detector().detectAndDecodeMulti(gray)
    except cv2.error:
        log.debug("QR detector pass failed", exc_info=True)
        return [], []
    if not ok:
        return [], []
    quads = _quads(points)
    decoded: list[Found] = []
    missed: list[Quad] = []
    for text, quad in zip(texts or (), quads, strict=False):
        if isinstance(text, str) and text:
            decoded.append((text, quad))
        else:
            missed.append(quad)
    return decoded, missed


def _rectify(gray: Gray, quad: Quad) -> Gray | None:
    """The located code warped to an upright, upscaled square with a quiet zone."""
    side = float(np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1).max())
    if not side >= 8:  # also False for NaN
        return None
    size = min(_RESCUE_MAX, max(_RESCUE_MIN, side))
    margin = size * _RESCUE_MARGIN
    target = np.array([[margin, margin], [margin + size, margin],
                       [margin + size, margin + size], [margin, margin + size]], np.float32)
    total = int(size + 2 * margin)
    try:
        matrix = cv2.getPerspectiveTransform(quad, target)
        crop = cv2.warpPerspective(gray, matrix, (total, total), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REPLICATE)
    except cv2.error:
        return None
    return np.asarray(crop, dtype=np.uint8)


def _rescue(gray: Gray, quad: Quad) -> str:
    """Decode one located-but-undecoded code from its rectified crop, or ''."""
    crop = _rectify(gray, quad)
    if crop is None:
        return ""
    sigma = crop.shape[0] / 120
    attempts: tuple[Callable[[Gray], Gray], ...] = (
        lambda c: _sharpen(c, sigma),
        lambda c: _binarise(_sharpen(c, sigma)),
        lambda c: c,
        lambda c: _binarise(_sharpen(c, sigma * 0.66, 4.0)),  # heavy defocus
    )
    for prepare in attempts:
        try:
            text, _, _ = _detector().detectAndDecode(prepare(crop))
        except cv2.error:
            continue
        if isinstance(text, str) and text:
            return text
    return ""


def _reading_order(found: Iterable[Found]) -> list[str]:
    """Texts sorted by their code's centre (rows of 20 px, then x), first copy kept."""
    def key(item: Found) -> tuple[int, float, str]:
        cx, cy = item[1].mean(axis=0)
        return int(cy // 20), float(cx), item[0]

    ordered: dict[str, None] = {}
    for text, _ in sorted(found, key=key):
        ordered.setdefault(text, None)
    return list(ordered)


def _upscaled_pass(gray: Gray) -> list[Found]:
    """Codes found in the frame upscaled 2x and sharpened, with corners in frame pixels."""
    big = np.asarray(cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                     dtype=np.uint8)
    found, missed = _detect_and_decode(_sharpen(big, 3.0))
    found += [(text, quad) for quad in missed if (text := _rescue(big, quad))]
    return [(text, (quad / 2).astype(np.float32)) for text, quad in found]


def _opencv_passes(gray: Gray, thorough: bool) -> list[Found]:
    """Passes 1-2 (and 3 when thorough) of the module docstring."""
    found, missed = _detect_and_decode(gray)
    found += [(text, quad) for quad in missed if (text := _rescue(gray, quad))]
    if thorough and max(gray.shape) <= UPSCALE_MAX_SIDE:
        found += _upscaled_pass(gray)
    return found


def _zxing_read(gray: Gray, scale: float = 1.0) -> list[Found]:
    """Every QR code zxing-cpp finds in ``gray``, corners (TL, TR, BR, BL) / ``scale``."""
    formats = zxingcpp.BarcodeFormat
    # Plain (model 2) QR only: zxing-cpp 3's "QRCode" also admits Micro QR, and a blurred
    # corner of a real code once read as a Micro QR "99123" here. (In 2.x "QRCode" is it.)
    qr = getattr(formats, "QRCodeModel2", formats.QRCode)
    try:
        codes = zxingcpp.read_barcodes(gray, formats=qr, try_rotate=False)
    except (RuntimeError, ValueError, TypeError):
        log.debug("zxing-cpp pass failed", exc_info=True)
        return []
    found: list[Found] = []
    for code in codes:
        text = code.text
        if isinstance(text, str) and text:
            p = code.position
            quad = np.array([[c.x, c.y] for c in (p.top_left, p.top_right, p.bottom_right,
                                                  p.bottom_left)], dtype=np.float32)
            found.append((text, quad / np.float32(scale)))
    return found


def _zxing_passes(gray: Gray, thorough: bool) -> list[Found]:
    """The zxing-cpp passes 1-2 of the module docstring."""
    found = _zxing_read(gray) + _zxing_read(_sharpen(gray, 1.0))
    if thorough and max(gray.shape) <= UPSCALE_MAX_SIDE:
        big = np.asarray(cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                         dtype=np.uint8)
        found += _zxing_read(_sharpen(big, 2.0), scale=2.0)
    return found


BACKENDS = ("auto", "zxing", "opencv")


def default_backend() -> str:
    """What ``backend="auto"`` uses here: "zxing" if zxing-cpp is installed, else "opencv"."""
    return "opencv" if zxingcpp is None else "zxing"


def decode_frame(frame: np.ndarray, *, thorough: bool = False,
                 backend: str = "auto") -> list[str]:
    """Every QR code's text in ``frame`` (grayscale or BGR uint8), de-duplicated, in
    reading order; ``[]`` for anything that is not a usable frame. Never raises on a
    frame (an unknown ``backend``, a caller's mistake, is a ValueError).

    ``backend``: "zxing" (the zxing-cpp passes), "opencv" (the OpenCV passes) or "auto"
    (the default): zxing-cpp if it is installed, else OpenCV. ``thorough=True`` adds a
    pass over the frame upscaled 2x and sharpened (frames up to ``UPSCALE_MAX_SIDE``):
    it finds codes too small (50-70 px) or, with OpenCV, too blurred for the normal
    passes, at two (zxing-cpp) to four (OpenCV) times the cost. A camera loop can afford
    it on every few frames rather than on all of them.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown QR backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend == "zxing" and zxingcpp is None:
        raise ValueError("QR backend 'zxing' needs zxing-cpp: pip install zxing-cpp")
    try:
        gray = to_gray(frame)
        if gray is None:
            return []
        if backend == "opencv" or (backend == "auto" and zxingcpp is None):
            return _reading_order(_opencv_passes(gray, thorough))
        return _reading_order(_zxing_passes(gray, thorough))
    except Exception:  # untrusted frames must never stop the camera loop
        log.warning("QR decoding failed on a frame; skipped", exc_info=True)
        return []
