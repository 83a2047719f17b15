"""The built-in visual proof: start the project's dev server, screenshot pages in headless Chromium.

Playwright drives Debian's Chromium (/usr/bin/chromium, or CXO_CHROMIUM): cxo
never downloads a browser. The browser profile lives outside the worktree.
"""

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .errors import CxoError

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path() -> str:
    return os.environ.get("CXO_CHROMIUM") or "/usr/bin/chromium"


def wait_until_up(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers: up
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise CxoError(f"{url} did not answer within {timeout_s:.0f}s: check the dev server command", 1)


def slug(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower().split("://", 1)[-1]).strip("-")[:60] or "page"


def take(urls: list[str], out: Path, profile: Path | None = None, width: int = 1280, height: int = 720) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    profile = profile or Path(tempfile.mkdtemp(prefix="cxo-proof-profile-"))
    shots = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height})
        try:
            for index, url in enumerate(urls, start=1):
                page = context.new_page()
                page.goto(url, wait_until="load")
                path = out / f"{index:02d}-{slug(url)}.png"
                page.screenshot(path=str(path), full_page=True)
                shots.append(path)
        finally:
            context.close()
    return shots


def run(worktree: Path, out: Path, urls: list[str], server: str | None, ready_url: str | None,
        timeout_s: float, profile: Path | None = None) -> list[Path]:
    proc = None
    if server:
        from .proc import kill_group

        proc = subprocess.Popen(["bash", "-c", server], cwd=worktree, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(ready_url or urls[0], timeout_s)
        return take(urls, out, profile)
    finally:
        if proc is not None:
            kill_group(proc)


def main_json(shots: list[Path]) -> str:
    return json.dumps([{"path": str(p), "bytes": p.stat().st_size} for p in shots], indent=2)
