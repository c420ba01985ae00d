#!/usr/bin/env bash
# Install what the app needs, then start it on the embedded default (http://localhost:8501).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run app.py "$@"
