"""The GitHub Actions workflows `cxo-setup --actions` writes: .github/workflows/cxo.yml and cxo-gates.yml.

Third-party actions are pinned by full commit SHA (the tag in a comment, for humans and Dependabot); cxo and
the Codex CLI are installed at pinned versions; the token permissions are the least cxo needs.
"""

from . import __version__

# Full commit SHAs of the tags named beside them (looked up in each action's repository).
ACTIONS = {
    "checkout": ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup-python": ("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "upload-artifact": ("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "app-token": ("actions/create-github-app-token", "1b10c78c7865c340bc4f6099eb2f838309f1e8c3", "v3.1.1"),
}
CODEX_VERSION = "0.169.0"  # scripts/install-codex.sh pins the same
PYTHON_VERSION = "3.12"
PATHS = {"run": ".github/workflows/cxo.yml", "gates": ".github/workflows/cxo-gates.yml"}


def uses(key: str) -> str:
    repo, sha, tag = ACTIONS[key]
    return f"{repo}@{sha} # {tag}"


RUN_WORKFLOW = """\
# cxo: labelled issues -> sandboxed agent runs -> gates -> draft PRs. Written by `cxo-setup --actions`.
# Tokens: the GitHub App token (vars.CXO_APP_ID + secrets.CXO_APP_PRIVATE_KEY) when configured, so the draft
# PRs trigger your other workflows; else GITHUB_TOKEN (PRs it opens do not trigger workflows).
name: cxo

on:
  issues:
    types: [labeled]
  # Comments only wake cxo up: it re-reads the issue and runs only labelled, eligible issues (labels need
  # triage rights); no comment text reaches a shell, and no pull request code is checked out here.
  issue_comment:  # zizmor: ignore[dangerous-triggers]
    types: [created]
  pull_request_review:
    types: [submitted]
  schedule:
    - cron: "17 * * * *"  # backstop: anything an event missed
  workflow_dispatch:
    inputs:
      issue:
        description: "Issue number to run (empty: every eligible issue)"
        required: false
        type: string
      tree:
        description: "agent:plan-auto parent whose next tree step to run (cxo dispatches this itself)"
        required: false
        type: string

permissions: {}

env:
  # Replace with your pinned cxo: a version, a wheel URL with its hash, or git+https://…@<full commit sha>.
  CXO_PIP_SPEC: "cxo==@CXO_VERSION@"
  CODEX_VERSION: "@CODEX_VERSION@"

jobs:
  eligible:
    name: eligible work
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      issues: read
      # cxo's PRs: their feedback, base moves and failing checks make rounds (lib/cxo/rounds/upkeep.py).
      pull-requests: read
      checks: read
      statuses: read
    outputs:
      issues: ${{ steps.list.outputs.issues }}
      tree: ${{ steps.list.outputs.tree }}
      more-trees: ${{ steps.list.outputs.more-trees }}
    steps:
@INSTALL_CXO@
      - name: List eligible issues
        id: list
        env:
          GITHUB_TOKEN: ${{ github.token }}
          REQUESTED: ${{ inputs.issue }}
          TREE: ${{ inputs.tree }}
        run: |
          if [ -n "$TREE" ]; then
            case "$TREE" in *[!0-9]*) echo "::error::tree must be a number"; exit 2;; esac
            echo '{"eligible": [{"number": '"$TREE"', "mode": "plan-auto"}]}' > status.json
          elif [ -n "$REQUESTED" ]; then
            case "$REQUESTED" in *[!0-9]*) echo "::error::issue must be a number"; exit 2;; esac
            echo '{"eligible": [{"number": '"$REQUESTED"'}]}' > status.json
          else
            cxo-status --json > status.json
          fi
          python - >> "$GITHUB_OUTPUT" <<'PY'
          import json
          status = json.load(open("status.json"))
          # Every kind of work cxo-status lists: issues and feedback rounds (cxo-run --issue N of an issue in
          # review runs its PR's round) each get a matrix entry; agent:plan-auto parents fan out as trees (one per
          # workflow run, the others dispatched).
          work = status.get("work") or [{"kind": "tree" if i.get("mode") == "plan-auto" else "issue",
                                         "number": i["number"]} for i in status["eligible"]]
          trees = [item["number"] for item in work if item["kind"] == "tree"]
          print("issues=" + json.dumps([item["number"] for item in work if item["kind"] != "tree"]))
          print("tree=" + (str(trees[0]) if trees else ""))
          print("more-trees=" + json.dumps(trees[1:]))
          PY

  run:
    name: cxo-run #${{ matrix.issue }}
    needs: eligible
    if: needs.eligible.outputs.issues != '[]' && needs.eligible.outputs.issues != ''
@AGENT_MATRIX:needs.eligible.outputs.issues@
    steps:
@AGENT_SETUP@
      - name: cxo-run
        id: cxo
        env:
          GITHUB_TOKEN: ${{ steps.app-token.outputs.token || github.token }}
          # The model's key reaches the agent only through codex.envPassthrough / the Codex adapter.
          OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}
          CXO_STATE_DIR: ${{ runner.temp }}/cxo-state
          ISSUE: ${{ matrix.issue }}
        run: cxo-run --issue "$ISSUE"
@UPLOAD_RUN_STATE@
"""

TREE_JOBS = """
  # An agent:plan-auto tree fans out one step per workflow run: `tree` plans the parent or merges its finished
  # children (all state on GitHub: child issues, labels, marker comments, branches), `child` runs each child that
  # may start now on its own runner, and `next` dispatches this workflow again for the tree's next step.
  tree:
    name: cxo-tree #${{ needs.eligible.outputs.tree }}
    needs: eligible
    if: needs.eligible.outputs.tree != ''
    runs-on: ubuntu-24.04
    timeout-minutes: 90
    permissions:
      contents: write
      issues: write
      pull-requests: write
    concurrency:
      group: cxo-tree-${{ needs.eligible.outputs.tree }}
      cancel-in-progress: false
    outputs:
      children: ${{ steps.step.outputs.children }}
      status: ${{ steps.step.outputs.status }}
    steps:
@AGENT_SETUP@
      - name: cxo-tree step
        id: step
        env:
          GITHUB_TOKEN: ${{ steps.app-token.outputs.token || github.token }}
          OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}
          CXO_STATE_DIR: ${{ runner.temp }}/cxo-state
          PARENT: ${{ needs.eligible.outputs.tree }}
        run: cxo-tree --parent "$PARENT" --step
      - name: Upload the step's state
        if: always()
        uses: @UPLOAD_ARTIFACT@
        with:
          name: cxo-state-tree-${{ needs.eligible.outputs.tree }}
          path: ${{ runner.temp }}/cxo-state
          if-no-files-found: ignore
          retention-days: 14

  child:
    name: cxo-run #${{ matrix.issue }} (child of #${{ needs.eligible.outputs.tree }})
    needs: [eligible, tree]
    if: needs.tree.outputs.children != '[]' && needs.tree.outputs.children != ''
@AGENT_MATRIX:needs.tree.outputs.children@
    steps:
@AGENT_SETUP@
      - name: cxo-run child
        id: cxo
        env:
          GITHUB_TOKEN: ${{ steps.app-token.outputs.token || github.token }}
          OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}
          CXO_STATE_DIR: ${{ runner.temp }}/cxo-state
          ISSUE: ${{ matrix.issue }}
          PARENT: ${{ needs.eligible.outputs.tree }}
        run: cxo-run --issue "$ISSUE" --tree-parent "$PARENT"
@UPLOAD_RUN_STATE@

  next:
    name: next tree steps
    needs: [eligible, tree, child]
    if: >-
      always() && (needs.eligible.outputs.more-trees != '[]'
      || needs.child.result == 'success' || needs.child.result == 'failure')
    runs-on: ubuntu-24.04
    # actions: write only here, and only to dispatch this workflow (POST …/dispatches): the jobs that run an
    # agent never hold it. A dispatch made with GITHUB_TOKEN does start a new workflow run (unlike other events).
    permissions:
      actions: write
    steps:
      - name: Dispatch the next tree steps
        env:
          GITHUB_TOKEN: ${{ github.token }}
          REF: ${{ github.ref_name }}
          TREE: ${{ needs.eligible.outputs.tree }}
          CHILDREN_RAN: ${{ needs.child.result }}
          MORE: ${{ needs.eligible.outputs.more-trees }}
        run: |
          parents=$(python3 -c 'import json, os; print(*map(int, json.loads(os.environ["MORE"] or "[]")))')
          case "$CHILDREN_RAN" in success|failure) parents="$TREE $parents";; esac
          for parent in $parents; do
            case "$parent" in ''|*[!0-9]*) echo "::error::not an issue number"; exit 2;; esac
            curl --fail-with-body --silent --show-error \\
              --request POST \\
              --header "Authorization: Bearer $GITHUB_TOKEN" \\
              --header "Accept: application/vnd.github+json" \\
              --data '{"ref": "'"$REF"'", "inputs": {"tree": "'"$parent"'"}}' \\
              "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/actions/workflows/cxo.yml/dispatches"
            echo "dispatched the next tree step of #$parent"
          done
"""

AGENT_SETUP = """\
      - uses: @APP_TOKEN@
        id: app-token
        if: vars.CXO_APP_ID != ''
        with:
          app-id: ${{ vars.CXO_APP_ID }}
          private-key: ${{ secrets.CXO_APP_PRIVATE_KEY }}
          permission-contents: write
          permission-issues: write
          permission-pull-requests: write
@INSTALL_CXO@
      # The Codex CLI at the exact version scripts/install-codex.sh pins; npm checks the registry's integrity hash.
      - name: Install the Codex CLI
        run: npm install --global --no-audit --no-fund "@openai/codex@$CODEX_VERSION" # zizmor: ignore[adhoc-packages]
      - name: Install bubblewrap and let it create user namespaces (AppArmor, Ubuntu 24.04)
        run: |
          sudo apt-get update -qq
          sudo apt-get install -y -qq bubblewrap
          printf '%s\\n' 'abi <abi/4.0>,' 'include <tunables/global>' \\
            'profile bwrap /usr/bin/bwrap flags=(unconfined) {' '  userns,' '}' \\
            | sudo tee /etc/apparmor.d/bwrap > /dev/null
          sudo apparmor_parser -r /etc/apparmor.d/bwrap
"""

GATES_WORKFLOW = """\
# cxo's safety and tdd gates on every pull request, as annotations. Written by `cxo-setup --actions`.
name: cxo gates

on:
  pull_request:

permissions: {}

env:
  CXO_PIP_SPEC: "cxo==@CXO_VERSION@"

jobs:
  gates:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: @CHECKOUT@
        with:
          persist-credentials: false
          fetch-depth: 0
      - uses: @SETUP_PYTHON@
        with:
          python-version: "@PYTHON_VERSION@"
      - name: Install cxo and bubblewrap
        run: |
          python -m pip install "$CXO_PIP_SPEC"
          sudo apt-get update -qq
          sudo apt-get install -y -qq bubblewrap
          printf '%s\\n' 'abi <abi/4.0>,' 'include <tunables/global>' \\
            'profile bwrap /usr/bin/bwrap flags=(unconfined) {' '  userns,' '}' \\
            | sudo tee /etc/apparmor.d/bwrap > /dev/null
          sudo apparmor_parser -r /etc/apparmor.d/bwrap
      - name: cxo-gate safety
        env:
          BASE_SHA: ${{ github.event.pull_request.base.sha }}
        run: cxo-gate safety --worktree . --base "$BASE_SHA" --head HEAD --format github
      - name: cxo-gate tdd
        if: always()
        env:
          BASE_SHA: ${{ github.event.pull_request.base.sha }}
        run: cxo-gate tdd --worktree . --base "$BASE_SHA" --head HEAD --format github
"""


# The head of a job that runs one agent per matrix entry (an issue, or a tree's child): @AGENT_MATRIX:<list>@,
# where <list> is the expression holding the JSON list of issue numbers.
AGENT_MATRIX = """\
    runs-on: ubuntu-24.04
    timeout-minutes: 90
    permissions:
      contents: write
      issues: write
      pull-requests: write
      checks: read  # a CI fix round reads the failing checks and the Actions job's log
      statuses: read
      actions: read
    strategy:
      fail-fast: false
      max-parallel: @MAX_PARALLEL@  # concurrency.children in .codex-orchestrator/config.yaml
      matrix:
        issue: ${{ fromJSON(@LIST@) }}
    concurrency:
      group: cxo-issue-${{ matrix.issue }}
      cancel-in-progress: false
"""


# The repository (full history: cxo fetches and compares branches), the pinned Python and cxo itself.
INSTALL_CXO = """\
      - uses: @CHECKOUT@
        with:
          persist-credentials: false
          fetch-depth: 0
      - uses: @SETUP_PYTHON@
        with:
          python-version: "@PYTHON_VERSION@"
      - name: Install cxo
        run: python -m pip install "$CXO_PIP_SPEC"
"""

# A matrix entry's saved envelopes, logs and proofs, kept as an artifact whatever the outcome.
UPLOAD_RUN_STATE = """\
      - name: Upload the run's state
        if: always()
        uses: @UPLOAD_ARTIFACT@
        with:
          name: cxo-state-${{ matrix.issue }}
          path: ${{ runner.temp }}/cxo-state
          if-no-files-found: ignore
          retention-days: 14
"""


def render(template: str, max_parallel: int) -> str:
    import re

    template = re.sub(r"@AGENT_MATRIX:([a-z.-]+)@\n", lambda m: AGENT_MATRIX.replace("@LIST@", m.group(1)), template)
    template = template.replace("@AGENT_SETUP@\n", AGENT_SETUP).replace("@UPLOAD_RUN_STATE@\n", UPLOAD_RUN_STATE)
    template = template.replace("@INSTALL_CXO@\n", INSTALL_CXO)
    values = {"@CXO_VERSION@": __version__, "@CODEX_VERSION@": CODEX_VERSION, "@PYTHON_VERSION@": PYTHON_VERSION,
              "@MAX_PARALLEL@": str(max_parallel), "@CHECKOUT@": uses("checkout"),
              "@SETUP_PYTHON@": uses("setup-python"), "@UPLOAD_ARTIFACT@": uses("upload-artifact"),
              "@APP_TOKEN@": uses("app-token")}
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def files(max_parallel: int = 2) -> dict[str, str]:
    """{relative path: text} of both workflows."""
    return {PATHS["run"]: render(RUN_WORKFLOW + TREE_JOBS, max_parallel),
            PATHS["gates"]: render(GATES_WORKFLOW, max_parallel)}
