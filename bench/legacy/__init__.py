"""The protocol decoders before msgspec (issue 23, item 3), kept only for comparison.

``protocol.py`` is the hand-written schema walker edge/protocol.py used to be, and
``fast_decode.py`` the orjson fast path hub/ingest.py put in front of it. bench/decode.py
times them against the msgspec decoder in the same run, and tests/test_protocol_legacy.py
holds the new decoder to the old one's answers and reasons. Nothing outside bench/ and
that test imports them.
"""
