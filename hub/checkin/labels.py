"""Desk QR labels: random, revocable desk codes and the printable images that carry them.

A label encodes ``<hub base URL>/d/<code>``. The code is random (72 bits), not the desk id,
so nobody can guess another desk's URL, and reissuing a label revokes the old code.
Images are pure functions of their text: PNG/SVG per desk, and an A4 PDF sheet with
twelve labels per page (desk name and floor printed under each code).
"""

from __future__ import annotations

import io
import ipaddress
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from PIL import Image, ImageDraw, ImageFont

from hub.db.protocol import Store
from hub.errors import NotFound

CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{12,64}")
# A4 at 150 dpi; 3 x 4 labels per page.
PAGE_PX = (1240, 1754)
DPI = 150
COLUMNS, ROWS = 3, 4
MARGIN_PX = 60


@dataclass(frozen=True)
class Label:
    desk: str
    name: str
    floor: str
    url: str
    site: str = ""  # the site's name, printed beside the floor


def new_code() -> str:
    return secrets.token_urlsafe(9)


def label_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/d/{code}"


# -- codes in the store ----------------------------------------------------------------------

def active_code(store: Store, desk: str) -> str | None:
    row = store.db.execute(
        "SELECT code FROM desk_codes WHERE desk = ? AND revoked IS NULL "
        "ORDER BY created DESC LIMIT 1", [desk],
    ).fetchone()
    return None if row is None else str(row[0])


def issue_code(store: Store, desk: str, *, now: float | None = None) -> str:
    """A new code for ``desk``; every earlier code of the desk is revoked (reprint)."""
    at = time.time() if now is None else now
    code = new_code()
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM desks WHERE id = ?", [desk]).fetchone() is None:
            raise NotFound(f"no desk '{desk}'")
        db.execute("UPDATE desk_codes SET revoked = ? WHERE desk = ? AND revoked IS NULL",
                   [at, desk])
        db.execute("INSERT INTO desk_codes (code, desk, created, revoked) VALUES (?, ?, ?, NULL)",
                   [code, desk, at])
    return code


def revoke_codes(store: Store, desk: str, *, now: float | None = None) -> int:
    """Revoke the desk's codes without issuing a new one (the label stops working)."""
    with store.transaction() as db:
        cursor = db.execute(
            "UPDATE desk_codes SET revoked = ? WHERE desk = ? AND revoked IS NULL",
            [time.time() if now is None else now, desk],
        )
    return max(cursor.rowcount, 0)


def resolve_code(store: Store, code: str) -> str | None:
    """The desk a live (not revoked) code names, else None."""
    if not CODE_PATTERN.fullmatch(code):
        return None
    row = store.db.execute(
        "SELECT desk FROM desk_codes WHERE code = ? AND revoked IS NULL", [code]
    ).fetchone()
    return None if row is None else str(row[0])


def site_labels(store: Store, site: str, base_url: str) -> list[Label]:
    """A label for every desk of ``site``, issuing codes for desks that have none."""
    desks = list(store.db.query(
        "SELECT d.id, d.name, f.name AS floor, s.name AS site FROM desks d JOIN floors f "
        "ON f.site = d.site AND f.id = d.floor JOIN sites s ON s.id = d.site "
        "WHERE d.site = ? ORDER BY f.level, d.id", [site],
    ))
    if not desks and store.db.execute("SELECT 1 FROM sites WHERE id = ?", [site]).fetchone() \
            is None:
        raise NotFound(f"site '{site}' not found")
    labels = []
    for desk in desks:
        code = active_code(store, desk["id"]) or issue_code(store, desk["id"])
        labels.append(Label(desk["id"], desk["name"], desk["floor"], label_url(base_url, code),
                            desk["site"]))
    return labels


# -- images (pure) -----------------------------------------------------------------------------

def _qr(data: str, **kwargs: Any) -> qrcode.QRCode:  # type: ignore[type-arg]
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, **kwargs)
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_image(data: str, box_size: int = 10) -> Image.Image:
    image = _qr(data, box_size=box_size).make_image(fill_color="black", back_color="white")
    return image.get_image().convert("L")


def qr_png(data: str, box_size: int = 10) -> bytes:
    out = io.BytesIO()
    qr_image(data, box_size).save(out, format="PNG")
    return out.getvalue()


def qr_svg(data: str) -> bytes:
    image = _qr(data, image_factory=qrcode.image.svg.SvgPathImage).make_image()
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def loopback_warning(base_url: str, what: str = "the labels") -> str | None:
    """A warning when labels would point at this machine only (``localhost``, 127.0.0.1,
    ::1): a phone scanning them would open itself, not the hub."""
    host = (urlsplit(base_url).hostname or "").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.endswith(".localhost")
    if not loopback:
        return None
    return (f"{what} point to {base_url}, a loopback address: phones cannot reach it. "
            "Set public_url in hub.toml (or --base-url) to the address phones use, then "
            "print again")


def _centred(draw: ImageDraw.ImageDraw, width: int, y: int, text: str, size: int) -> None:
    font = _font(size)
    box = draw.textbbox((0, 0), text, font=font)
    draw.text(((width - (box[2] - box[0])) // 2, y), text, fill=0, font=font)


def _label_tile(label: Label, width: int, height: int) -> Image.Image:
    """"Scan to check in", the QR, the desk's name, its floor and site."""
    tile = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(tile)
    draw.rectangle((0, 0, width - 1, height - 1), outline=200, width=2)
    _centred(draw, width, 10, "Scan to check in", 24)
    side = min(width - 40, height - 150)
    code = qr_image(label.url).resize((side, side), Image.Resampling.NEAREST)
    tile.paste(code, ((width - side) // 2, 40))
    y = 40 + side + 6
    where = f"{label.floor}, {label.site}" if label.site else label.floor
    for text, size in ((label.name, 30), (where, 20)):
        font = _font(size)
        text = text[:40]
        box = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - (box[2] - box[0])) // 2, y), text, fill=0, font=font)
        y += size + 10
    return tile


def sheet_pdf(labels: Sequence[Label]) -> bytes:
    """An A4 PDF, COLUMNS x ROWS labels per page (one empty page if there are none)."""
    width = (PAGE_PX[0] - 2 * MARGIN_PX) // COLUMNS
    height = (PAGE_PX[1] - 2 * MARGIN_PX) // ROWS
    per_page = COLUMNS * ROWS
    pages: list[Image.Image] = []
    for first in range(0, max(len(labels), 1), per_page):
        page = Image.new("L", PAGE_PX, 255)
        for k, label in enumerate(labels[first:first + per_page]):
            x = MARGIN_PX + (k % COLUMNS) * width
            y = MARGIN_PX + (k // COLUMNS) * height
            page.paste(_label_tile(label, width - 10, height - 10), (x + 5, y + 5))
        pages.append(page)
    out = io.BytesIO()
    pages[0].save(out, format="PDF", resolution=float(DPI), save_all=True,
                  append_images=pages[1:])
    return out.getvalue()
