"""The README and docs/ARCHITECTURE.md say what the code does: counts, exit codes, the layout, when gates skip."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text()


def scripts() -> list[str]:
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def table_after(text: str, heading: str) -> list[str]:
    """The rows of the first markdown table after `heading`."""
    rest = text[text.index(heading):].splitlines()[1:]
    start = next(i for i, line in enumerate(rest) if line.startswith("|"))
    rows = []
    for line in rest[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def exit_codes(text: str, heading: str) -> set[str]:
    return {row.split("|")[1].strip() for row in table_after(text, heading)}


def test_the_readme_counts_the_commands_the_package_installs():
    counted = re.findall(r"the (\d+) commands", README)
    assert counted and set(counted) == {str(len(scripts()))}, (counted, len(scripts()))


def test_architecture_lists_every_exit_status_the_readme_does():
    readme = exit_codes(README, "### Exit status (all executables)")
    assert "70" in readme
    assert exit_codes(ARCHITECTURE, "## Exit codes (all executables)") == readme


def test_the_architecture_layout_names_files_that_exist_and_the_agent_modules():
    layout = "\n".join(table_after(ARCHITECTURE, "## Layout"))
    for path in re.findall(r"`(lib/cxo/[\w/.{},*-]+)`", layout):
        if "*" in path:
            continue
        if "{" in path:  # lib/cxo/x/{a,b}.py
            head, names, tail = re.fullmatch(r"(.*)\{(.*)\}(.*)", path).groups()
            paths = [head + name + tail for name in names.split(",")]
        else:
            paths = [path]
        for one in paths:
            assert (ROOT / one).exists(), f"docs/ARCHITECTURE.md names {one}, which does not exist"
    for module in ("agents/repository.py", "sandbox/seccomp.py", "sandbox/view.py", "sandbox/egress.py",
                   "sandbox/bridge.py"):
        name = module.rsplit("/", 1)[-1]
        assert module in layout or f"`{name}`" in layout or name.removesuffix(".py") in layout, module


def test_the_readme_says_when_the_review_gate_skips():
    (review,) = [row for row in table_after(README, "| gate | passes when |") if row.startswith("| `review` |")]
    assert "skipped when no runtime file changed" in review.lower()
    assert "docs" in review and "codeReview" in review
