"""`python -m cxo`: the umbrella command (`codex-orchestrator`)."""

import sys

from .cli.umbrella import main

if __name__ == "__main__":
    sys.exit(main())
