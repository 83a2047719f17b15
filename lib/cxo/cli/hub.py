"""`cxo-hub`: serve the embedded GitHub-compatible hub, and seed it from the command line."""

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .common import add_version

EXIT_USAGE, EXIT_API = 2, 4


class Fail(Exception):
    def __init__(self, message, code=EXIT_API):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (exit 2), not the whole usage block."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())}: see {self.prog} --help\n")


def _port(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"{value[:20]!r} is not a port number from 0 to 65535")
    return int(value)


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{value[:20]!r} is not a share from 0 to 1")
    return share


def _millis(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) > 600_000:
        raise argparse.ArgumentTypeError(f"{value[:20]!r} is not a number of milliseconds from 0 to 600000")
    return int(value)


def _issue(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{value[:20]!r} is not an issue number")
    return int(value)


def _api(value: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"{value[:60]!r} is not an http(s) URL such as http://127.0.0.1:8765")
    return value


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="cxo-hub", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="An embedded GitHub-compatible REST server (SQLite state, real git over smart HTTP).",
        epilog="exit status: 0 ok, 2 usage, 4 API unreachable or refused the request")
    add_version(p)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = sub.add_parser("serve", help="serve until stopped; prints the API base URL as the first stdout line")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8765, help="0 picks a free port")
    serve.add_argument("--data", required=True, type=Path, help="state directory (SQLite + bare repositories)")
    serve.add_argument("--token", action="append", metavar="[LOGIN:]TOKEN",
                       help="accept only these tokens (repeatable); LOGIN:TOKEN authenticates as LOGIN")
    serve.add_argument("--admin-token", metavar="TOKEN",
                       help="the token /_hub/* admin routes require (default: a random one kept in DATA/admin-token;"
                            " without --token, `admin` is accepted too)")
    serve.add_argument("--fault-rate", type=_share, default=0.0, help="share of API requests answered 502/503")
    serve.add_argument("--drop-rate", type=_share, default=0.0, help="share of writes processed but not answered")
    serve.add_argument("--latency-ms", type=_millis, default=0, help="delay added to every API request")
    serve.add_argument("--fault-seed", type=int, default=None)
    serve.add_argument("--verbose", action="store_true", help="log every request on stderr")

    def client(name, help_text):
        c = sub.add_parser(name, help=help_text)
        c.add_argument("--api", type=_api, default=os.environ.get("GITHUB_API_URL", "http://127.0.0.1:8765"),
                       help="API base URL (default: $GITHUB_API_URL or http://127.0.0.1:8765)")
        c.add_argument("--token", default=os.environ.get("GITHUB_TOKEN", "hub-token"),
                       help="token (default: $GITHUB_TOKEN or hub-token)")
        return c

    create_repo = client("create-repo", "create a repository, optionally pushing a local directory's branches")
    create_repo.add_argument("name")
    create_repo.add_argument("--org", help="create it in this organization instead of the token's user")
    create_repo.add_argument("--from", dest="source", type=Path, help="a local git repository to push")
    create_issue = client("create-issue", "open an issue")
    create_issue.add_argument("--repo", required=True, metavar="OWNER/NAME")
    create_issue.add_argument("--title", required=True)
    create_issue.add_argument("--body", default="")
    create_issue.add_argument("--label", action="append", default=[])
    listing = client("list", "list issues, pulls, labels or comments as JSON lines")
    listing.add_argument("what", choices=["issues", "pulls", "labels", "comments"])
    listing.add_argument("--repo", required=True, metavar="OWNER/NAME")
    listing.add_argument("--issue", type=_issue, help="the issue whose comments to list")
    return p


def _call(args, method: str, path: str, body=None):
    request = urllib.request.Request(
        args.api.rstrip("/") + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {args.token}", "Content-Type": "application/json", "User-Agent": "cxo-hub"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("message", detail)
        except ValueError:
            pass
        raise Fail(f"{method} {path}: {err.code} {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        raise Fail(f"cannot reach {args.api} ({getattr(err, 'reason', err)}): start it with `cxo-hub serve`") from None
    return json.loads(text) if text else None


def serve(args) -> int:
    from ..hub.server import FaultConfig, HubServer

    if args.data.exists() and not args.data.is_dir():
        raise Fail(f"--data {args.data}: not a directory: give a directory for the hub's state", EXIT_USAGE)
    faults = FaultConfig(args.fault_rate, args.latency_ms, args.drop_rate, args.fault_seed)
    try:
        server = HubServer(args.data, tokens=args.token, host=args.host, port=args.port, faults=faults,
                           verbose=args.verbose, admin_token=args.admin_token)
    except ValueError as err:
        raise Fail(f"--token: {err}", EXIT_USAGE) from None
    except (OSError, OverflowError) as err:
        raise Fail(f"cannot listen on {args.host}:{args.port} ({getattr(err, 'strerror', None) or err}): pick "
                   "another --host or --port", EXIT_USAGE) from None
    print(server.url, flush=True)
    print(f"cxo-hub: serving {server.url} with data in {args.data}", file=sys.stderr, flush=True)
    if not args.admin_token:
        print(f"cxo-hub: the admin token for /_hub/* is in {args.data / 'admin-token'}", file=sys.stderr, flush=True)
    import signal

    from .common import _raise_interrupt

    # Ctrl-C, or SIGTERM from a service manager (or a shell whose background jobs ignore SIGINT): a clean stop.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def create_repo(args) -> int:
    if args.source and not (args.source / ".git").exists() and not (args.source / "HEAD").is_file():
        raise Fail(f"--from {args.source}: not a git repository: give a local clone to push", EXIT_USAGE)
    path = f"/orgs/{args.org}/repos" if args.org else "/user/repos"
    repo = _call(args, "POST", path, {"name": args.name})
    if args.source:
        from ..gitutil import token_env

        proc = subprocess.run(["git", "push", "-q", repo["clone_url"], "refs/heads/*:refs/heads/*"], cwd=args.source,
                              capture_output=True, text=True, env={**os.environ, **token_env(args.token)})
        if proc.returncode != 0:
            raise Fail(f"git push from {args.source} failed: {proc.stderr.strip().splitlines()[-1:]}")
    print(json.dumps({"full_name": repo["full_name"], "clone_url": repo["clone_url"]}))
    return 0


def create_issue(args) -> int:
    issue = _call(args, "POST", f"/repos/{args.repo}/issues",
                  {"title": args.title, "body": args.body, "labels": args.label})
    print(json.dumps({"number": issue["number"], "html_url": issue["html_url"]}))
    return 0


def list_things(args) -> int:
    if args.what == "comments" and not args.issue:
        raise Fail("list comments needs --issue N", EXIT_USAGE)
    path = {"issues": f"/repos/{args.repo}/issues?state=all&per_page=100",
            "pulls": f"/repos/{args.repo}/pulls?state=all&per_page=100",
            "labels": f"/repos/{args.repo}/labels?per_page=100",
            "comments": f"/repos/{args.repo}/issues/{args.issue}/comments?per_page=100"}[args.what]
    for item in _call(args, "GET", path) or []:
        print(json.dumps(item))
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"serve": serve, "create-repo": create_repo, "create-issue": create_issue,
                "list": list_things}[args.command](args)
    except Fail as err:
        print(f"cxo-hub: error: {' '.join(str(err).split())}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line and a crash log, as every cxo executable
        from .common import crash_log

        log = crash_log("cxo-hub", exc)
        print(f"cxo-hub: internal error: {type(exc).__name__}: the traceback is in {log}: please report it",
              file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
