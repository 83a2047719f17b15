"""cxo-eval: how well cxo and its agent resolve a repository's own past issues (SWE-bench-style tasks)."""
