"""MCP servers as tools: each server of an agent connected with the official `mcp` SDK, its tools declared to
the model and called for it (issue 16). Below the Live session, which calls them; above retry and the agent file."""
