"""Utilisation figures (METRICS.md): the numpy kernel, the window and calendar, day summaries,
reports. Pure."""
