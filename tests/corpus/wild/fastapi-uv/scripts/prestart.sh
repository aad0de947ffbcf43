#!/usr/bin/env bash
set -e
python -c "import app.main"
