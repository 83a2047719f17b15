"""The pipeline steps. Each exposes run(envelope, *, policy, args=None, say=..., tracker=None) -> envelope."""
