"""Agent adapters: how cxo runs a coding agent (the Codex CLI by default, or any command)."""
