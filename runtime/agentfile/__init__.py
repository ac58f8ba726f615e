"""The agent file: its schema (`spec`), reading it (`loader`, `yamldoc`), checking it (`checks`, `http_checks`,
`spec_errors`), the model catalogue, and the tools it declares resolved once (`resolved_tools`, `entrypoints`,
`placeholders`). It knows no session, no daemon and no audio (import-linter contracts in pyproject.toml)."""
