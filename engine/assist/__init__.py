"""Assist: what the agent gets while the caller talks (work order, extraction, classification,
knowledge suggestions, caller history)."""
