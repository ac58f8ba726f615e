"""The phrases a satellite link reports (kept apart from `link.py`, so the daemon's status needs no `wyoming`)."""

WAITING = "waiting for satellite"
"""Not connected: the satellite is off, rebooting or unreachable; the agent's Live session stays up."""
CONNECTED = "satellite connected"
