"""What the read-only admin pages show, as plain rows: agents with their last health report,
the provisioning commands installers run, and the privacy and retention settings.

Pure functions over store rows and settings, so the pages stay thin templates and the tests
can check the figures without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.config import HubSettings

NO_HEALTH = "no health report yet"


def when(at: float | None, now: float, timezone: str = "UTC") -> str:
    """``2026-12-02 13:53 CET (4 min ago)`` in ``timezone`` (the site's, where the thing
    belongs to a site; UTC for the hub's own jobs), 24-hour and named; "never" when there
    is no time."""
    if at is None:
        return "never"
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    stamp = datetime.fromtimestamp(at, zone).strftime("%Y-%m-%d %H:%M %Z")
    ago = max(0.0, now - at)
    if ago < 60:
        rel = "just now"
    elif ago < 3600:
        rel = f"{int(ago // 60)} min ago"
    elif ago < 2 * 86400:
        rel = f"{int(ago // 3600)} h ago"
    else:
        rel = f"{int(ago // 86400)} days ago"
    return f"{stamp} ({rel})"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@dataclass(frozen=True)
class AgentRow:
    id: str
    site: str
    state: str  # "online", "offline", "never connected", "revoked"
    last_seen: str
    version: str
    outbox_depth: str
    dropped: str
    faults: tuple[str, ...]
    uptime: str
    clock_offset: str
    has_health: bool
    gaps: str = "–"  # seq jumps within a boot: messages that never reached the hub


def _count(value: Any) -> str:
    return "–" if value is None else str(int(value))


def agent_rows(agents: list[dict[str, Any]], provisioned: list[dict[str, Any]],
               now: float, zones: dict[str, str] | None = None) -> list[AgentRow]:
    """Agents the store knows (store.agents(): reported, or named on a desk) plus provisioned
    ones it does not. ``zones``: each site's time zone, for "last seen".

    Health fields come from the agent's latest ``health`` message; an agent that has only
    said hello shows "–" there and :data:`NO_HEALTH`.
    """
    rows = []
    revoked = {p["name"] for p in provisioned if p.get("revoked") is not None}
    for a in agents:
        has_health = a.get("uptime") is not None or a.get("outbox_depth") is not None
        state = "online" if a.get("online") else "offline"
        if state == "offline" and a.get("last_seen") is None:
            state = "never connected"  # named in the building or provisioned, not yet heard
        if a["id"] in revoked:
            state = "revoked" if not a.get("online") else "online (revoked: reload the broker)"
        offset = a.get("clock_offset")
        last_seen = when(a.get("last_seen"), now, (zones or {}).get(a["site"], "UTC"))
        rows.append(AgentRow(
            id=a["id"], site=a["site"], state=state, last_seen=last_seen,
            version=a.get("version") or "–", outbox_depth=_count(a.get("outbox_depth")),
            dropped=_count(a.get("dropped")), faults=tuple(str(f) for f in a.get("faults") or ()),
            uptime=duration(a.get("uptime")),
            clock_offset="–" if offset is None else f"{offset:+.1f} s",
            has_health=has_health, gaps=_count(a.get("gaps"))))
    seen = {a["id"] for a in agents}
    for p in provisioned:
        if p["name"] in seen:
            continue
        state = "revoked" if p.get("revoked") is not None else "never connected"
        rows.append(AgentRow(
            id=p["name"], site=p["site"], state=state, last_seen="never", version="–",
            outbox_depth="–", dropped="–", faults=(), uptime="–", clock_offset="–",
            has_health=False))
    return sorted(rows, key=lambda r: (r.site, r.id))


# -- provisioning ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    title: str
    command: str
    why: str


# Placeholders in <angle brackets>; tests/api/test_admin_pages.py parses every command with
# the real CLI parser, so the page cannot drift from `deskpulse hub --help`.
PROVISIONING: tuple[Command, ...] = (
    Command("1. The hub's own broker account (once)",
            "deskpulse hub agents hub-account --config /etc/deskpulse/hub.toml",
            "Prints the hub's MQTT password once. Set mqtt_username = \"deskpulse-hub\" in "
            "hub.toml and the password as DESKPULSE_MQTT_PASSWORD in the service environment."),
    Command("2. Import the building",
            "deskpulse hub import-building <building.json> --config /etc/deskpulse/hub.toml",
            "Sites, floors, zones and desks; do this before adding agents so each agent's file "
            "lists its desks (or use the floor constructor)."),
    Command("3. Add an agent",
            "deskpulse hub agents add <agent-id> --site <site> --broker-host <broker name> "
            "--out <agent-id>.toml --config /etc/deskpulse/hub.toml",
            "Creates the agent's own broker password and ACL entry and writes a ready edge.toml "
            "(mode 600). The password is shown once and stored nowhere else. Then run "
            "systemctl reload mosquitto and copy the file to the Pi as "
            "/etc/deskpulse/edge.toml together with ca.crt."),
    Command("3b. Regenerate an agent's edge.toml (no new password)",
            "deskpulse hub agents edge-config <agent-id> --broker-host <broker name> "
            "--out <agent-id>.toml --config /etc/deskpulse/hub.toml",
            "After desks or their sensors changed in the floor constructor: the same file "
            "with the agent's current desks and sensors; the password line stays a comment, "
            "keep the one the agent already has."),
    Command("4. Revoke an agent",
            "deskpulse hub agents revoke <agent-id> --config /etc/deskpulse/hub.toml",
            "When a Pi is lost, replaced or suspected. Then systemctl reload mosquitto: until "
            "the broker reloads, the agent can still connect. Adding the name again issues a "
            "new password."),
    Command("5. Print desk QR labels",
            "deskpulse hub labels --site <site> --out labels.pdf "
            "--config /etc/deskpulse/hub.toml",
            "An A4 sheet with twelve labels per page; the Labels page offers the same."),
    Command("6. An API token for integrations",
            "deskpulse hub create-token <name> --role manager --config /etc/deskpulse/hub.toml",
            "Shown once; send it as Authorization: Bearer <token>."),
)


# -- privacy and retention ------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    key: str
    value: str
    env: str
    meaning: str


def _days(value: float) -> str:
    return f"{value:g} days"


def privacy_settings(settings: HubSettings) -> list[Setting]:
    """The settings that decide what is kept and for how long, with where to change them."""
    rows = [
        ("retention_checkins_days", _days(settings.retention_checkins_days),
         "finished check-ins (identified) are deleted after this"),
        ("retention_transitions_days", _days(settings.retention_transitions_days),
         "raw desk state changes; hourly and daily figures are kept"),
        ("retention_messages_days", _days(settings.retention_messages_days),
         "keys of ingested messages, which recognise a message delivered twice; keep above "
         "the agents' outbox max_age_days"),
        ("retention_dead_letters_days", _days(settings.retention_dead_letters_days),
         "rejected MQTT messages kept for diagnosis"),
        ("retention_audit_days", _days(settings.retention_audit_days),
         "audit trail entries (who read or changed personal data)"),
        ("retention_interval", f"{settings.retention_interval:g} s",
         "how often the retention job runs"),
        ("colleague_visibility", "allowed" if settings.colleague_visibility else "not allowed",
         "may people opt in to be findable by colleagues while checked in"),
        ("privacy_k", str(settings.privacy_k),
         "counts below this are shown as \"< k\""),
    ]
    return [Setting(key, value, "DESKPULSE_" + key.upper(), meaning)
            for key, value, meaning in rows]


def last_run_text(run: dict[str, Any] | None, now: float) -> tuple[str, list[tuple[str, int]]]:
    """When retention last ran and the rows it removed per table."""
    if run is None or not isinstance(run.get("at"), (int, float)):
        return ("never: the hub runs it every retention_interval seconds (hub serve, role all "
                "or aggregate)"), []
    removed = run.get("removed") or {}
    counts = [(str(k), int(v)) for k, v in sorted(removed.items())
              if isinstance(v, (int, float))]
    return when(float(run["at"]), now), counts
