"""Uploaded floor plans, checked for real before they are stored: pure functions over bytes.

A plan is a PNG or an SVG. The kind comes from the content, never from the file name or the
client's ``Content-Type``. A PNG is opened with Pillow, its header dimensions are checked
*before* any pixel is decoded (a decompression bomb claims a huge size in a tiny file), then
it is verified and fully decoded, so a truncated or corrupt file is refused. An SVG is parsed
with expat with DOCTYPE, entities and processing instructions refused (no entity expansion,
no external stylesheet), and must stay within the allow-lists of :mod:`hub.building.svg_allow`:
drawing elements and attributes only, CSS only of allow-listed properties with plain
values (no escape, at-rule or foreign ``url()``), ``href`` only ``#id`` or an inline raster
``data:image/...``. ``script``, ``foreignObject``, ``on*`` attributes and ``javascript:``
get reasons of their own. Every refusal is a :class:`PlanRejected`
whose message says why and whose ``status`` is the HTTP status to answer with.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from xml.parsers import expat

from PIL import Image, UnidentifiedImageError

from hub.building import svg_allow as allow
from hub.errors import DeskpulseError

PNG = "image/png"
SVG = "image/svg+xml"
MAX_PLAN_BYTES = 5 * 1024 * 1024
MAX_SIDE = 10_000          # pixels, either side of a PNG
MAX_PIXELS = 25_000_000    # width x height of a PNG: about 100 MB decoded as RGBA
MAX_SVG_ELEMENTS = 50_000
MAX_SVG_DEPTH = 200
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = allow.SVG_NS
XHTML_NS = "http://www.w3.org/1999/xhtml"
# Elements that run script, embed other documents or pull in other resources.
FORBIDDEN_ELEMENTS = frozenset({
    "script", "foreignobject", "iframe", "embed", "object", "handler", "listener", "audio",
    "video", "applet", "frame", "frameset", "link", "meta", "base",
})
_NUMBER = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(px)?\s*")
_SPACE = re.compile(r"[\s\x00-\x20]+")


class PlanRejected(DeskpulseError):
    """An uploaded floor plan that is not a safe PNG or SVG; ``status`` is 400, 413 or 415."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Plan:
    """A checked plan: its media type, size in its own units, and a content hash."""

    content_type: str
    width: float
    height: float
    sha256: str
    data: bytes


def check_plan(data: bytes, max_bytes: int = MAX_PLAN_BYTES) -> Plan:
    """A :class:`Plan` for an acceptable file; :class:`PlanRejected` saying why otherwise."""
    if len(data) > max_bytes:
        raise PlanRejected(f"the floor plan is larger than the limit of {max_bytes} bytes", 413)
    if not data:
        raise PlanRejected("the floor plan is empty: upload a PNG or SVG file")
    if data.startswith(PNG_SIGNATURE):
        width, height = _check_png(data)
        kind = PNG
    elif _looks_like_xml(data):
        width, height = _check_svg(data)
        kind = SVG
    else:
        raise PlanRejected("a floor plan must be a PNG or SVG image", 415)
    return Plan(kind, width, height, hashlib.sha256(data).hexdigest(), data)


# -- PNG ---------------------------------------------------------------------------------------

def _check_png(data: bytes) -> tuple[float, float]:
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size  # from the IHDR chunk; no pixel decoded yet
            if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE) or \
                    width * height > MAX_PIXELS:
                raise PlanRejected(
                    f"the PNG claims {width} x {height} pixels; a floor plan may have at most "
                    f"{MAX_SIDE} pixels a side and {MAX_PIXELS} pixels in all")
            image.verify()  # chunk structure and checksums
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()  # every pixel: a truncated or corrupt stream fails here
    except PlanRejected:
        raise
    except Image.DecompressionBombError:
        raise PlanRejected("the PNG is a decompression bomb (too many pixels)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            MemoryError) as exc:
        raise PlanRejected(f"the PNG cannot be decoded: {_short(exc)}") from None
    return float(width), float(height)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:160]


# -- SVG ---------------------------------------------------------------------------------------

def _looks_like_xml(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def _local(name: str) -> tuple[str, str]:
    """(namespace, lower-case local name) of an expat name 'ns local' or 'local'."""
    ns, _, local = name.rpartition(" ")
    return ns, local.lower()


class _SvgChecker:
    """Expat callbacks that raise PlanRejected at the first unsafe construct."""

    def __init__(self) -> None:
        self.depth = 0
        self.elements = 0
        self.root: tuple[str, dict[str, str]] | None = None
        self.in_style = 0
        self.style_text: list[str] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        ns, local = _local(name)
        self.depth += 1
        self.elements += 1
        if self.depth > MAX_SVG_DEPTH or self.elements > MAX_SVG_ELEMENTS:
            raise PlanRejected("the SVG is too deeply nested or has too many elements")
        if self.root is None:
            if (ns, local) != (SVG_NS, "svg"):
                raise PlanRejected("the file is XML but not an SVG (root must be <svg> in the "
                                   "SVG namespace)")
            self.root = (local, attrs)
        if ns == XHTML_NS:
            raise PlanRejected(f"the SVG contains an HTML element <{local}>")
        if local in FORBIDDEN_ELEMENTS:
            raise PlanRejected(f"the SVG contains a <{local}> element, which is not allowed")
        inert = ns in allow.INERT_NAMESPACES
        if not inert and (ns != SVG_NS or local not in allow.ELEMENTS):
            raise PlanRejected(f"the SVG contains a <{local}> element, which is not on the "
                               "allow-list of drawing elements")
        if local == "style":
            self.in_style += 1
        for key, value in attrs.items():
            self._attribute(local, key, value, inert)

    def _attribute(self, element: str, name: str, value: str, inert: bool) -> None:
        ns, key = _local(name)
        if key.startswith("on"):
            raise PlanRejected(f"the SVG has an event handler attribute {key} on <{element}>")
        compact = _SPACE.sub("", value).lower()
        if "javascript:" in compact or "vbscript:" in compact:
            raise PlanRejected(f"the SVG has a script URL in {key} on <{element}>")
        if key == "href" and ns in ("", allow.XLINK_NS):
            if not allow.reference_ok(value):
                raise PlanRejected(f"the SVG has an external reference in {key} on <{element}>: "
                                   "only #fragment and data:image links are allowed")
            return
        if inert or ns == allow.XML_NS or ns in allow.INERT_NAMESPACES:
            return  # not rendered (an editor's bookkeeping) or xml:space / xml:lang
        if ns or key not in allow.ATTRIBUTES:
            raise PlanRejected(f"the SVG has an attribute {key} on <{element}>, which is not "
                               "on the allow-list")
        where = f"the {key} attribute of <{element}>"
        if key == "style":
            problem = allow.declarations_problem(value, where)
        elif key in allow.PROPERTIES:  # presentation attributes are parsed as CSS values
            problem = allow.value_problem(key, value, where)
        elif "\\" in value or "url(" in compact:
            problem = f"the SVG has an escape or url() in {where}, which is not allowed"
        else:
            problem = None
        if problem:
            raise PlanRejected(problem)

    def end(self, name: str) -> None:
        self.depth -= 1
        if _local(name)[1] == "style":
            self.in_style -= 1
            self.end_style()

    def text(self, data: str) -> None:
        if self.in_style:
            self.style_text.append(data)

    def end_style(self) -> None:
        """A ``<style>`` element's whole text, checked once it is complete (expat may
        deliver it in pieces)."""
        problem = allow.stylesheet_problem("".join(self.style_text), "a <style> element")
        self.style_text = []
        if problem:
            raise PlanRejected(problem)


def _refuse(message: str) -> object:
    def handler(*_args: object) -> None:
        raise PlanRejected(message)
    return handler


def _check_svg(data: bytes) -> tuple[float, float]:
    checker = _SvgChecker()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse(  # type: ignore[assignment]
        "the SVG has a DOCTYPE; DOCTYPEs and entities are not allowed")
    parser.EntityDeclHandler = _refuse(  # type: ignore[assignment]
        "the SVG declares an entity, which is not allowed")
    parser.ExternalEntityRefHandler = _refuse(  # type: ignore[assignment]
        "the SVG refers to an external entity, which is not allowed")
    parser.ProcessingInstructionHandler = _refuse(  # type: ignore[assignment]
        "the SVG has a processing instruction (e.g. xml-stylesheet), which is not allowed")
    parser.StartElementHandler = checker.start
    parser.EndElementHandler = checker.end
    parser.CharacterDataHandler = checker.text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise PlanRejected(f"the SVG is not well-formed XML: {_short(exc)}") from None
    except RecursionError:
        raise PlanRejected("the SVG is too deeply nested") from None
    if checker.root is None:
        raise PlanRejected("the SVG has no <svg> element")
    return _svg_size(checker.root[1])


def _svg_size(attrs: dict[str, str]) -> tuple[float, float]:
    """The drawing's aspect: the viewBox, else numeric width and height."""
    box = attrs.get("viewBox")
    if box is not None:
        parts = [p for p in re.split(r"[\s,]+", box.strip()) if p]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) == 4 and all(0 < n < 1e7 for n in numbers[2:]):
            return numbers[2], numbers[3]
        raise PlanRejected("the SVG viewBox must be four numbers with a positive width and "
                           "height")
    width, height = (_NUMBER.fullmatch(attrs.get(k, "")) for k in ("width", "height"))
    if width and height:
        w, h = float(width.group(1)), float(height.group(1))
        if 0 < w < 1e7 and 0 < h < 1e7:
            return w, h
    raise PlanRejected("the SVG needs a viewBox (or numeric width and height) so that desks "
                       "can be placed on it")
