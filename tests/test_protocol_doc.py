"""docs/protocol.md must stay true: every JSON example in it is a valid v1 message."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge import protocol as p

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
SECTION = re.compile(r"^### `(\w+)`", re.MULTILINE)
BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, dict]]:
    text = DOC.read_text()
    found = []
    marks = [(m.start(), m.group(1)) for m in SECTION.finditer(text)]
    for block in BLOCK.finditer(text):
        kinds = [kind for start, kind in marks if start < block.start()]
        if kinds:
            found.append((kinds[-1], json.loads(block.group(1))))
    return found


def test_every_message_kind_has_a_valid_example() -> None:
    seen = set()
    for kind, body in examples():
        agent = body.get("agent", "agent-3")
        topic = p.topic_for("hq", agent, kind)  # type: ignore[arg-type]
        sent = max((v for k, v in body.items() if k in ("sent", "issued")), default=0)
        p.decode(topic, json.dumps(body).encode(), now=sent or 1_763_800_000.0)
        seen.add(kind)
    assert seen == set(p.KINDS)


def test_the_rejection_reasons_listed_are_the_ones_the_code_gives() -> None:
    text = DOC.read_text()
    for reason in ("unknown protocol version; this receiver speaks v1",
                   "unknown field 'rssi' in events[0]",
                   "agent in payload does not match the agent in the topic",
                   "events[0].at is more than 300 s in the future",
                   f"message is larger than {p.MAX_PAYLOAD_BYTES} bytes"):
        assert f"`{reason}`" in text
