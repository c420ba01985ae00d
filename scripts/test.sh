#!/usr/bin/env bash
# Install the app, the test tools and headless Chromium, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
exec .venv/bin/python -m pytest "$@"
