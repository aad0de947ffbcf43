#!/bin/sh
set -e
cd "${GITHUB_WORKSPACE:-.}"
if [ -f requirements.txt ]; then
    pip install --break-system-packages -r requirements.txt
fi
pelican "${INPUT_CONTENT:-content}" -o "${INPUT_OUTPUT:-output}" -s "${INPUT_SETTINGS:-publishconf.py}"
