"""docs/protocol.md's generated schemas and docs/asyncapi.yaml match the Structs.

Regenerate with ``python -m edge.protocol_schema --write`` after changing a message.
"""

from __future__ import annotations

import json

import yaml

from edge import protocol as p
from edge import protocol_schema as gen


def test_the_generated_documents_match_the_code() -> None:
    md = (gen.DOCS / "protocol.md").read_text()
    assert gen.protocol_md(md) == md, "run python -m edge.protocol_schema --write"
    assert (gen.DOCS / "asyncapi.yaml").read_text() == gen.asyncapi_yaml(), (
        "run python -m edge.protocol_schema --write")
    assert gen.main([]) == 0


def test_the_yaml_reads_back_as_the_document() -> None:
    """The generator writes its own YAML (edge/ needs no PyYAML); PyYAML must agree."""
    assert yaml.safe_load(gen.asyncapi_yaml()) == json.loads(json.dumps(gen.asyncapi()))
    tricky = {"on": "yes", "/a/{b}": ["x: y", {"#": "- z"}, [], {}], "n": [True, None, 1.5]}
    assert yaml.safe_load("\n".join(gen._yaml_lines(tricky, 0))) == tricky


def test_asyncapi_has_every_topic_with_its_delivery_and_schema() -> None:
    doc = yaml.safe_load((gen.DOCS / "asyncapi.yaml").read_text())
    assert doc["asyncapi"] == "3.0.0"
    schemas = doc["components"]["schemas"]
    for kind, cls in p.MESSAGE_TYPES.items():
        assert doc["channels"][kind]["address"] == f"deskpulse/v1/{{site}}/{{agent}}/{kind}"
        op = doc["operations"][("receive_" if kind in p.EDGE_TO_HUB else "send_") + kind]
        qos, retain = p.DELIVERY[kind]
        assert op["bindings"]["mqtt"]["qos"] == qos and op["bindings"]["mqtt"]["retain"] == retain
        body = schemas[cls.__name__]
        assert body["additionalProperties"] is False
        assert set(body["properties"]) == {"v", *cls.__struct_fields__}
        assert "v" in body["required"]


def test_the_schema_states_the_limits_the_decoder_enforces() -> None:
    schemas = gen.components()
    desks = schemas["DesksMessage"]["properties"]
    assert desks["agent"]["pattern"] == "^[a-z0-9-]{1,64}$"
    assert desks["events"]["minItems"] == 1 and desks["events"]["maxItems"] == p.MAX_ITEMS
    assert desks["seq"]["maximum"] == p.MAX_INT
    assert schemas["Scan"]["properties"]["token"]["maxLength"] == p.MAX_TOKEN_LENGTH
    assert "\\Z" not in str(schemas)
