#! /usr/bin/env sh
set -e
exec uvicorn --reload --host 0.0.0.0 --port 80 main:app
