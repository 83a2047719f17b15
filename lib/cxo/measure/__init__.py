"""Measuring cxo in operation: its spend and outcomes read back from GitHub (metrics, spend caps) and its runs
as OpenTelemetry traces. Leaves and policy/tracker-level modules only; nothing here is imported on the hot path
unless a feature is on."""
