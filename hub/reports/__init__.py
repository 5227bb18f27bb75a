"""Rollups and what reports read: day summaries in the store, today's live day, people and zone
figures, CSV."""
