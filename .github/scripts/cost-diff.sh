#!/usr/bin/env bash
# Offline cost diff of one stack between a base commit and the checked-out tree (the PR's head).
#
#   .github/scripts/cost-diff.sh STACK BASE_REF OUT_DIR
#
# Writes OUT_DIR/base.json and head.json (`hetzner-platform plan --json` of each side), head.err and
# comment.md: the PR comment body (hidden marker, cost table, resources added/removed, Mermaid
# picture) made by `python -m cli.compare`. The base side runs the base commit's own code and stack
# file from a temporary git worktree. A side without a plan (the stack is new, or its config does not
# validate there) counts as empty. No cloud account, no network: HCLOUD_TOKEN is dropped so both
# sides are priced from the same dated catalogue.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 STACK BASE_REF OUT_DIR" >&2
  exit 64
fi
stack=$1 base_ref=$2 out=$3
root=$(git rev-parse --show-toplevel)
python=${PYTHON_BIN:-$root/.venv/bin/python}
mkdir -p "$out"
out=$(cd "$out" && pwd)
unset HCLOUD_TOKEN HCLOUD_ENDPOINT

is_plan() {  # a JSON object on disk?
  "$python" -c 'import json, sys; sys.exit(0 if isinstance(json.load(open(sys.argv[1])), dict) else 1)' "$1" 2>/dev/null
}

base_dir=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$base_dir" >/dev/null 2>&1 || true
  rm -rf "$base_dir"
}
trap cleanup EXIT

: >"$out/base.err"
if git -C "$root" worktree add --detach --force "$base_dir" "$base_ref" >/dev/null 2>>"$out/base.err"; then
  # `python -m` puts the base worktree first on sys.path: the base commit's own code plans its own stack file.
  (cd "$base_dir" && PYTHONPATH="$base_dir" "$python" -m cli.main plan --stack "$stack" --json) \
    >"$out/base.json" 2>>"$out/base.err" || true
else
  echo "cost-diff: base commit $base_ref is not available" >>"$out/base.err"
fi
is_plan "$out/base.json" || echo '{}' >"$out/base.json"

# Exit 1 (over budget or capacity) still prints the plan; exit 2 (invalid config) prints the errors.
head_rc=0
(cd "$root" && "$python" -m cli.main plan --stack "$stack" --json) >"$out/head.json" 2>"$out/head.err" || head_rc=$?
if ! is_plan "$out/head.json"; then
  : >"$out/head.json"
  echo "cost-diff: the head plan of $stack failed (exit $head_rc)" >&2
fi

config_args=()
if [[ -s "$out/head.json" && -f "$root/Pulumi.$stack.yaml" ]]; then
  config_args=(--config-file "$root/Pulumi.$stack.yaml")
fi
(cd "$root" && "$python" -m cli.compare --base "$out/base.json" --head "$out/head.json" --stack "$stack" \
  --head-error "$out/head.err" "${config_args[@]}") >"$out/comment.md"
echo "cost-diff: wrote $out/comment.md (head plan exit $head_rc)"
