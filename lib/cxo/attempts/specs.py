"""Which attempts a best-of-N run makes: `agent.attempts` (a count, or one agent spec per attempt) or
`cxo-run --attempts N`, each attempt's agent and its share of the token budget, as a policy view of its own."""

import copy
import dataclasses

from ..errors import PolicyError


def count(policy, args=None) -> int:
    """How many attempts: `--attempts N` wins over the policy's agent.attempts (a count, or a list's length)."""
    given = getattr(args, "attempts", None)
    if given:
        return int(given)
    wanted = (policy["agent"] or {}).get("attempts") or 1
    return len(wanted) if isinstance(wanted, list) else int(wanted)


def agent_specs(policy, args=None) -> list[dict | None]:
    """One agent spec per attempt: None is the policy's own agent. With `--attempts N` and a list in the policy,
    the list's specs are taken in turn."""
    n = count(policy, args)
    wanted = (policy["agent"] or {}).get("attempts")
    if isinstance(wanted, list) and wanted:
        return [dict(wanted[i % len(wanted)]) for i in range(n)]
    return [None] * n


def share(max_tokens: int | None, n: int) -> int | None:
    """Each attempt's part of `codex.maxTokens`: the budget covers all attempts together, split evenly."""
    if not max_tokens:
        return None
    return max(1, int(max_tokens) // n)


def view(policy, spec: dict | None, max_tokens: int | None, k: int):
    """The policy as attempt `k` sees it: its agent spec laid over agent/codex, its share of the budget."""
    data = copy.deepcopy(policy.data)
    codex, agent = data["codex"], data["agent"]
    codex["maxTokens"] = max_tokens
    if spec:
        kind = spec["kind"]
        if kind == "command":
            if spec.get("args") is None:
                raise PolicyError(f"agent.attempts[{k - 1}]: kind command needs args (the command's arguments, "
                                  "as codex.args): add them to the policy")
            codex.update(command=spec.get("command") or codex["command"], args=list(spec["args"]))
            if spec.get("model"):
                codex["model"] = spec["model"]
        else:
            codex["args"] = None  # a non-null codex.args would mean the command kind
            own = codex if kind == "codex" else agent.setdefault(kind, {})
            for key in ("command", "model"):
                if spec.get(key):
                    own[key] = spec[key]
        agent["kind"] = kind
    return dataclasses.replace(policy, data=data)


def describe(policy) -> dict:
    """The agent an attempt's policy view runs: {kind, model, command} (for the envelope and the report)."""
    from .. import agents

    kind = agents.kind_of(policy)
    settings = agents.settings(policy, kind)
    return {"kind": kind, "model": settings.get("model"), "command": str(settings.get("command") or "") or None}
