"""cxo's bubblewrap sandbox against a bare bwrap: `true` started bare (`bwrap --ro-bind / / -- true`), in cxo's
default-deny box with network none, and with network allowlist (through the bridge, the egress proxy already
running); the proxy's own start and stop beside them."""

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

TITLE = "Sandbox start-up against a bare bwrap (median of 30 starts of `true`; target: <= 50 ms over bare)"
RUNS = 30
PROXY_RUNS = 5


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000


def _start(argv: list[str], cwd: Path, env: dict) -> None:
    done = subprocess.run(argv, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}")


def run(ctx) -> list[dict]:
    from cxo.agents.sandbox import Scope, egress
    from cxo.agents.sandbox.bubblewrap import Bubblewrap, binary, problem

    bwrap = binary()[0]
    why = problem()
    if not bwrap or why:
        return [{"what": "bubblewrap", "value": f"cannot start: {why}", "unit": ""}]
    base = ctx.work / "sandbox-start"
    repo = base / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, capture_output=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base)}

    def scope(network: str, name: str) -> Scope:
        scratch = base / name
        (scratch / "tmp").mkdir(parents=True)
        # The shape of an agent run's scope: its tree writable, the runner's objects and the tools read-only.
        return Scope(network=network, tmp=scratch / "tmp", scratch=scratch, writable=[repo],
                     readable=[repo / ".git" / "objects", ctx.root / ".venv"], allow_hosts=["127.0.0.1:9"])

    closed = Bubblewrap(scope("none", "none"))
    allow = Bubblewrap(scope("allowlist", "allowlist"))
    try:
        allow.wrap(["true"], repo)  # starts its egress proxy, once per sandbox: not part of a process's start
        bare_argv = [bwrap, "--ro-bind", "/", "/", "--", "true"]
        times: dict[str, list[float]] = {"bare": [], "none": [], "allowlist": [], "wrap": []}
        for index in range(RUNS + 1):  # interleaved, so drift on a busy machine hits all three alike
            began = time.perf_counter()
            _start(bare_argv, repo, env)
            bare = _ms(began)
            began = time.perf_counter()
            argv = closed.wrap(["true"], repo)
            wrapped = _ms(began)
            _start(argv, repo, env)
            none = _ms(began)
            began = time.perf_counter()
            _start(allow.wrap(["true"], repo), repo, env)
            allowlist = _ms(began)
            if index:  # the first round warms the page cache
                for key, value in (("bare", bare), ("none", none), ("allowlist", allowlist), ("wrap", wrapped)):
                    times[key].append(value)
    finally:
        closed.close()
        allow.close()
    starts, stops = [], []
    short = Path(tempfile.mkdtemp(prefix="cxo-bench-"))  # a unix socket's path holds 107 bytes at most
    try:
        for index in range(PROXY_RUNS):
            began = time.perf_counter()
            running = egress.start(egress.Rules(["127.0.0.1:9"]), short / "proxy.sock", short / f"log-{index}.jsonl")
            starts.append(_ms(began))
            began = time.perf_counter()
            running.stop()
            stops.append(_ms(began))
    finally:
        shutil.rmtree(short, ignore_errors=True)
    median = {key: statistics.median(values) for key, values in times.items()}
    return [
        {"what": "bare bwrap `true` (--ro-bind / /, median)", "value": median["bare"], "unit": "ms"},
        {"what": "cxo sandbox, network none (wrap + start, median)", "value": median["none"], "unit": "ms"},
        {"what": "  of which wrap() (argv, seccomp filter written)", "value": median["wrap"], "unit": "ms"},
        {"what": "cxo sandbox, network allowlist (through the bridge, median)", "value": median["allowlist"],
         "unit": "ms"},
        {"what": "network none: over bare bwrap", "value": median["none"] - median["bare"], "unit": "ms",
         "target": 50},
        {"what": "network allowlist: over bare bwrap", "value": median["allowlist"] - median["bare"], "unit": "ms",
         "target": 50},
        {"what": f"egress proxy start, once per sandbox (median of {PROXY_RUNS})", "value": statistics.median(starts),
         "unit": "ms"},
        {"what": f"egress proxy stop (median of {PROXY_RUNS})", "value": statistics.median(stops), "unit": "ms"},
        {"what": "processes left behind by the runs", "value": _leftovers(), "unit": ""},
    ]


def _leftovers() -> int:
    """Children of this process still alive (a proxy or a sandbox that outlived close())."""
    me = str(os.getpid())
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            count += fields[1] == me
    return count
