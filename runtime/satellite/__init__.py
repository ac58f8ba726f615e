"""Wyoming satellites as an agent's microphone and speaker (issue 22); docs/satellites.md."""
