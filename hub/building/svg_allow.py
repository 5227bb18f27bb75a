"""The allow-lists an uploaded SVG floor plan must stay within (pure, no I/O).

Why an allow-list: a deny-list of patterns missed CSS escapes (``@\\69mport``,
``u\\72l(...)``) that browsers decode into ``@import`` and ``url(...)`` (issue 24, item 7).
Here everything is refused unless named: the drawing elements and attributes a floor plan
needs, and in CSS (a ``<style>`` element, a ``style`` attribute and every presentation
attribute, which browsers parse as CSS too) only allow-listed properties whose values
are colours, numbers, lengths, keywords, plain font names or an in-document ``url(#id)``.
A backslash, an at-rule, a comment or any other function is refused, so no escape can
spell a reference. :mod:`hub.building.floor_plan` applies these while it parses with expat.
"""

from __future__ import annotations

import re

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Editors' bookkeeping (Inkscape, Sodipodi, RDF metadata): elements a browser does not render.
INERT_NAMESPACES = frozenset({
    "http://www.inkscape.org/namespaces/inkscape",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://creativecommons.org/ns#",
    "http://purl.org/dc/elements/1.1/",
})

ELEMENTS = frozenset({
    "svg", "g", "defs", "title", "desc", "metadata", "symbol", "use", "path", "rect",
    "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "textpath", "image",
    "lineargradient", "radialgradient", "stop", "pattern", "clippath", "mask", "marker",
    "style",
})

# Presentation attributes: also the CSS properties allowed in style sheets.
PROPERTIES = frozenset({
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
    "stroke-linecap", "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset",
    "stroke-miterlimit", "opacity", "color", "display", "visibility", "font", "font-family",
    "font-size", "font-weight", "font-style", "font-variant", "font-stretch", "text-anchor",
    "text-decoration", "dominant-baseline", "alignment-baseline", "baseline-shift",
    "letter-spacing", "word-spacing", "writing-mode", "direction", "clip-path", "clip-rule",
    "mask", "marker", "marker-start", "marker-mid", "marker-end", "stop-color",
    "stop-opacity", "vector-effect", "paint-order", "shape-rendering", "text-rendering",
    "image-rendering", "color-interpolation", "overflow", "white-space",
})
GEOMETRY = frozenset({
    "id", "class", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy",
    "width", "height", "d", "points", "transform", "viewbox", "preserveaspectratio",
    "version", "baseprofile", "offset", "gradientunits", "gradienttransform", "spreadmethod",
    "patternunits", "patterncontentunits", "patterntransform", "markerwidth",
    "markerheight", "markerunits", "refx", "refy", "orient", "clippathunits", "maskunits",
    "maskcontentunits", "dx", "dy", "rotate", "textlength", "lengthadjust", "startoffset",
    "pathlength", "lang", "style", "href",
})
ATTRIBUTES = PROPERTIES | GEOMETRY

# One CSS value: keywords, numbers with units, #hex colours, rgb()/hsl() of numbers, plain
# quoted font names, url(#id) and !important. No backslash, no other function.
_VALUE_PART = (r"(?:url\(\s*#[a-z0-9_.:-]+\s*\)|(?:rgba?|hsla?)\([0-9.,%\s/+-]*\)"
                r"|\"[a-z0-9 ,._-]*\"|'[a-z0-9 ,._-]*'|[#a-z0-9.,%+\s/-]|!important)")
_VALUE = re.compile(rf"(?:{_VALUE_PART})*", re.IGNORECASE)
_SELECTOR = re.compile(r"[a-z0-9_#.,\s>*:+~-]+", re.IGNORECASE)
_NAME = re.compile(r"[a-z-]{1,40}")
_SAFE_DATA = re.compile(r"data:image/(png|jpeg|jpg|gif|webp)[;,]", re.IGNORECASE)
_SPACE = re.compile(r"[\s\x00-\x20]+")


def reference_ok(value: str) -> bool:
    """An ``href`` may point inside the document (``#id``) or hold an inline raster."""
    target = _SPACE.sub("", value)
    return target.startswith("#") or bool(_SAFE_DATA.match(target))


def value_problem(prop: str, value: str, where: str) -> str | None:
    """Why a CSS value (of a declaration or a presentation attribute) is refused, or None."""
    if "\\" in value or "/*" in value:
        return f"the SVG has a CSS escape or comment in {where}, which is not allowed"
    if _VALUE.fullmatch(value.strip()) is None:
        return (f"the SVG has a value for {prop} in {where} that is not allowed (only "
                "colours, numbers, lengths, keywords, font names and url(#id))")
    return None


def declarations_problem(text: str, where: str) -> str | None:
    """Why a list of CSS declarations (``a: b; c: d``) is refused, or None."""
    for declaration in text.split(";"):
        if not declaration.strip():
            continue
        prop, colon, value = declaration.partition(":")
        prop = prop.strip().lower()
        if not colon or prop not in PROPERTIES:
            shown = prop if _NAME.fullmatch(prop) else "?"
            return f"the SVG has a CSS property '{shown}' in {where}, which is not allowed"
        problem = value_problem(prop, value, where)
        if problem:
            return problem
    return None


def stylesheet_problem(text: str, where: str) -> str | None:
    """Why a ``<style>`` element's text is refused, or None: only ``selector { decls }``
    rules, no at-rule (``@import``, ``@font-face``), escape or comment."""
    if "@" in text or "\\" in text or "/*" in text or "<" in text:
        return f"the SVG has an at-rule, escape or comment in {where}, which is not allowed"
    rest = text
    while rest.strip():
        head, brace, tail = rest.partition("{")
        body, close, rest = tail.partition("}")
        if not brace or not close or _SELECTOR.fullmatch(head.strip()) is None:
            return f"the SVG has CSS in {where} that is not plain rules (selector {{ ... }})"
        problem = declarations_problem(body, where)
        if problem:
            return problem
    return None
