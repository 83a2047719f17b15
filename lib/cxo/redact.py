"""Scrub secrets and the runner's home path from any text that leaves the machine."""

import os
import re
from pathlib import Path

SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
MASK = "[redacted]"
# (pattern, replacement): token shapes vanish whole; headers and URLs keep their frame.
PATTERNS = [
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), MASK),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"(?i)(authorization:\s*(?:token|bearer|basic)\s+)[^\s\"']+"), r"\1" + MASK),
    (re.compile(r"(x-access-token:)[^@\s]+(@)"), r"\1" + MASK + r"\2"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), MASK),
]


def secret_values(environ=None) -> list[str]:
    environ = os.environ if environ is None else environ
    values = [v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= 6]
    return sorted(set(values), key=len, reverse=True)


def redact(text: str, secrets=(), environ=None) -> str:
    if not text:
        return text
    for value in list(secrets) + secret_values(environ):
        if value:
            text = text.replace(value, MASK)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    home = str(Path.home())
    if home and home != "/":
        text = text.replace(home + "/", "~/").replace(home, "~")
    return text
