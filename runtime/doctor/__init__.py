"""`runtime doctor`: is this device ready to run its agents, and what does the real service say?

Each module checks one family (agent files, audio, credentials, network, live sessions, the service unit) and
returns `Check` results; `report.py` renders them. The live sessions can write a conformance trace
(`trace.py`, `sanitize.py`) that `tests/conformance/` replays against the emulator (docs/doctor.md).
"""
