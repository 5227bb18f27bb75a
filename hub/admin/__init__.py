"""What administrators change: the building (edits, import/export), agents' provisioning, people."""
