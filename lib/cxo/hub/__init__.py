"""cxo-hub: an embedded GitHub-compatible REST server for demos, tests and offline use.

Stdlib only: `http.server` for HTTP, `sqlite3` for state, and real bare git
repositories served over git's smart HTTP protocol by `git http-backend`.
"""
