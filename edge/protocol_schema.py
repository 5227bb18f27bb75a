"""JSON Schema of every v1 message and the AsyncAPI 3 document, generated from the Structs.

Why generated: the Structs in edge/protocol.py are the one definition of the protocol;
docs/protocol.md (the section between the markers below) and docs/asyncapi.yaml are
written from them, and tests/test_protocol_schema.py fails when either is stale.
Regenerate with ``python -m edge.protocol_schema --write`` (needs PyYAML, a dev
dependency). What a schema cannot say (the agent in the topic, time stamps against the
receiver's clock, repeated keys) is stated in docs/protocol.md's prose.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import msgspec

from edge import protocol as p

DOCS = Path(__file__).resolve().parents[1] / "docs"
BEGIN = "<!-- BEGIN GENERATED: python -m edge.protocol_schema --write -->"
END = "<!-- END GENERATED -->"
_SUMMARY = {
    "status": "Birth (retained, with version) or last will (online false).",
    "desks": "Desk state changes, batched; (agent, boot, seq) is unique per message.",
    "zones": "Anonymous device counts per zone per bin: counts only, never a device.",
    "checkins": "Opaque check-in tokens seen at desks.",
    "health": "Agent health: outbox depth, faulty sensors, uptime, drop counts.",
    "config": "Desk/zone mapping, enrolled badge hashes, key epoch.",
    "feedback": "The result of one scan so the device can beep or flash.",
}


def _portable(node: Any) -> Any:
    """Patterns as JSON Schema (ECMA-262) reads them: ``\\Z`` (Python's true end) is ``$``."""
    if isinstance(node, dict):
        return {k: (v.replace("\\Z", "$") if k == "pattern" and isinstance(v, str)
                    else _portable(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_portable(v) for v in node]
    return node


def _with_required_version(schemas: dict[str, Any]) -> dict[str, Any]:
    """msgspec marks the tag ``v`` as required only inside unions; the protocol always does."""
    for cls in p.MESSAGE_TYPES.values():
        body = schemas[cls.__name__]
        if "v" not in body.get("required", []):
            body["required"] = ["v", *body.get("required", [])]
    return schemas


def components(ref: str = "#/components/schemas/{name}") -> dict[str, Any]:
    """The schema of every message and part, keyed by Struct name."""
    _, schemas = msgspec.json.schema_components(list(p.MESSAGE_TYPES.values()),
                                                ref_template=ref)
    return _portable(_with_required_version(schemas))


def markdown() -> str:
    """The generated section of docs/protocol.md (between BEGIN and END)."""
    schemas = components("#/$defs/{name}")
    lines = [BEGIN, "",
             "The JSON Schema (draft 2020-12) of each message, generated from the Structs in",
             "edge/protocol.py. Do not edit by hand: run `python -m edge.protocol_schema "
             "--write`.", ""]
    for kind, cls in p.MESSAGE_TYPES.items():
        own = json.dumps(schemas[cls.__name__])
        used = {name: schemas[name] for name in sorted(schemas)
                if name != cls.__name__ and f'"#/$defs/{name}"' in own}
        body = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"{kind} ({cls.__name__})", **schemas[cls.__name__]}
        if used:
            body["$defs"] = used
        lines += [f"#### Schema: `{kind}`", "", "```jsonc",
                  json.dumps(body, indent=2, ensure_ascii=False), "```", ""]
    lines.append(END)
    return "\n".join(lines)


def asyncapi() -> dict[str, Any]:
    """AsyncAPI 3.0 for the MQTT interface: one channel per topic kind, the hub's view."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for kind, cls in p.MESSAGE_TYPES.items():
        qos, retain = p.DELIVERY[kind]
        messages[cls.__name__] = {
            "name": kind, "title": cls.__name__, "summary": _SUMMARY[kind],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            "bindings": {"mqtt": {"bindingVersion": "0.2.0"}},
        }
        channels[kind] = {
            "address": f"{p.TOPIC_ROOT}/{{site}}/{{agent}}/{kind}",
            "parameters": {"site": {"$ref": "#/components/parameters/site"},
                           "agent": {"$ref": "#/components/parameters/agent"}},
            "messages": {cls.__name__: {"$ref": f"#/components/messages/{cls.__name__}"}},
        }
        edge_sends = kind in p.EDGE_TO_HUB
        operations[f"{'receive' if edge_sends else 'send'}_{kind}"] = {
            "action": "receive" if edge_sends else "send",
            "channel": {"$ref": f"#/channels/{kind}"},
            "summary": ("An edge agent publishes, the hub receives." if edge_sends
                        else "The hub publishes, the agent receives."),
            "bindings": {"mqtt": {"qos": qos, "retain": retain, "bindingVersion": "0.2.0"}},
        }
    ident = {"description": "An id: lowercase [a-z0-9-]{1,64}."}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Deskpulse edge <-> hub MQTT interface",
            "version": f"{p.VERSION}.0.0",
            "description": ("Protocol v1 (docs/protocol.md), seen from the hub. Generated by "
                            "`python -m edge.protocol_schema --write`; do not edit by hand. "
                            "Payloads are at most "
                            f"{p.MAX_PAYLOAD_BYTES} bytes of UTF-8 JSON; no time stamp may "
                            f"be more than {int(p.MAX_FUTURE_SECONDS)} s ahead of the "
                            "receiver's clock or before 2020-01-01, and the agent in a "
                            "payload must be the one in its topic."),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": components(),
            "parameters": {"site": ident, "agent": ident},
        },
    }


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _yaml_scalar(value: Any) -> str:
    """A JSON scalar is a YAML scalar (strings double-quoted, JSON escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _yaml_lines(value: Any, indent: int) -> list[str]:
    """Block-style YAML for JSON-shaped data: enough for the AsyncAPI document.

    Written here rather than with PyYAML so that edge/ imports nothing the Pi's install
    lacks; tests/test_protocol_schema.py reads the result back with PyYAML.
    """
    pad, out = " " * indent, []
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        if key is None:
            lead = f"{pad}-"
        else:
            plain = _PLAIN_KEY.fullmatch(key) and key.lower() not in _YAML_WORDS
            lead = f"{pad}{key if plain else _yaml_scalar(key)}:"
        if isinstance(item, (dict, list, tuple)) and item:
            out.append(lead)
            out.extend(_yaml_lines(item, indent + 2))
        elif isinstance(item, (dict, list, tuple)):
            out.append(f"{lead} {'{}' if isinstance(item, dict) else '[]'}")
        else:
            out.append(f"{lead} {_yaml_scalar(item)}")
    return out


def asyncapi_yaml() -> str:
    header = "# Generated by `python -m edge.protocol_schema --write`; do not edit by hand.\n"
    return header + "\n".join(_yaml_lines(asyncapi(), 0)) + "\n"


def protocol_md(current: str) -> str:
    """docs/protocol.md with its generated section replaced (appended if missing)."""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + markdown() + tail
    return current.rstrip("\n") + "\n\n## Message schemas (generated)\n\n" + markdown() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the two documents")
    args = parser.parse_args(argv)
    md_path, api_path = DOCS / "protocol.md", DOCS / "asyncapi.yaml"
    md = protocol_md(md_path.read_text())
    api = asyncapi_yaml()
    if args.write:
        md_path.write_text(md)
        api_path.write_text(api)
        return 0
    stale = [str(path) for path, text in ((md_path, md), (api_path, api))
             if not path.exists() or path.read_text() != text]
    for path in stale:
        print(f"{path} is stale: run python -m edge.protocol_schema --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
