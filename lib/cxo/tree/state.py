"""An issue tree's runner state (`trees/<parent>.json` under the state directory): the plan, what is merged,
the children's issue numbers, timings. Written atomically."""

import json
from pathlib import Path


def _state_path(policy, number: int) -> Path:
    return policy.state_dir / "trees" / f"{number}.json"


def load_state(policy, number: int) -> dict | None:
    path = _state_path(policy, number)
    return json.loads(path.read_text()) if path.is_file() else None


def save_state(policy, number: int, state: dict) -> None:
    path = _state_path(policy, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def author(policy) -> dict:
    name, email = policy["git"]["commitAuthorName"], policy["git"]["commitAuthorEmail"]
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email}
