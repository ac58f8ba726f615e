"""The daemon behind `runtime run`: supervisors, hot reload, systemd integration (see docs/daemon.md)."""
