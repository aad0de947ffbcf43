# drift's front door. On a fresh machine `make demo` and `make test` do all set-up:
# a virtual environment with drift, a running Docker engine, the local base image.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
BASE   ?= drift-base:bookworm
# pytest-xdist workers for `make test`: the engine tests mostly wait on the engine, the mirror and
# the disk, so more workers than cores pay (tests/conftest.py says what they share and how).
TEST_JOBS ?= 3
export DRIFT_BASE_IMAGE = $(BASE)

.PHONY: help venv engine base chromium shells test test-unit demo docs docs-examples lint format bytecode bench bench-fleet bench-multi bench-node bench-packages bench-registry bench-watch corpus proto clean

help:
	@echo "make demo   - the story drift exists for, on a real engine"
	@echo "make test   - the whole test suite (starts an engine and builds base images if needed)"
	@echo "make docs   - the documentation site, built offline into site/ (mkdocs, strict)"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - drift side by side with syft, drift report with a shell loop, over two engines, and debsums;"
	@echo "              drift watch: exec-to-webhook latency and a 10,000-event soak"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

engine:
	@bash scripts/engine.sh

base: engine
	@bash scripts/base-image.sh $(BASE)

# A headless browser for the HTML report test (Debian's chromium; installed when missing).
# Without it the browser test skips on a laptop; under CI=true it is an error.
chromium:
	@bash scripts/chromium.sh >/dev/null || [ "$${CI:-}" != true ]

# zsh and fish for the shell-completion tests (Debian's; installed when missing), as chromium.
shells:
	@bash scripts/shells.sh >/dev/null || [ "$${CI:-}" != true ]

test: venv base chromium shells bytecode
	$(BIN)/python -m pytest -n $(TEST_JOBS)

test-unit: venv
	$(BIN)/python -m pytest -m "not engine"

demo: venv base bytecode
	@PATH="$(abspath $(BIN)):$$PATH" bash samples/demo/demo.sh

# The documentation site (mkdocs + mkdocs-material, from the dev extras): built offline, strict,
# so a broken link, page or included example fails the build. Open site/index.html.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict -d site/

# The example outputs the docs show (docs/examples/), from real runs of the demo's story on a
# real engine, then copied into the README's example blocks.
docs-examples: venv base bytecode
	@PATH="$(abspath $(BIN)):$$PATH" bash scripts/docs-examples.sh
	$(BIN)/python scripts/docs-readme.py

lint: venv
	$(BIN)/ruff format --check drift tests bench
	$(BIN)/ruff check drift tests bench
	$(BIN)/mypy drift

format: venv
	$(BIN)/ruff format drift tests bench
	$(BIN)/ruff check --fix drift tests bench

# drift as pip installs it: with its bytecode compiled. An editable checkout has none, and with
# PYTHONDONTWRITEBYTECODE set (as on this machine) every run would compile drift's modules again.
bytecode: venv
	@$(BIN)/python -m compileall -q drift

bench: venv base bytecode
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/multi.py
	$(BIN)/python bench/packages.py
	$(BIN)/python bench/node.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/watch.py

# drift and syft on an image in a throwaway registry (scripts/registry.sh), no engine involved
bench-registry: venv base bytecode
	$(BIN)/python bench/registry.py

bench-watch: venv base bytecode
	$(BIN)/python bench/watch.py

bench-packages: venv base bytecode
	$(BIN)/python bench/packages.py

bench-node: venv base bytecode
	$(BIN)/python bench/node.py

bench-multi: venv base bytecode
	$(BIN)/python bench/multi.py

bench-fleet: venv base bytecode
	$(BIN)/python bench/fleet.py

# Real projects' Dockerfiles (tests/corpus/wild, each naming its source) built here and audited
# against themselves, statically and with --build: any finding is a false alarm (slow: ~1-2 min a case).
corpus: venv base bytecode
	$(BIN)/python scripts/corpus.py

# drift/sources/containerd_api/containerd_pb2.py(i) from containerd.proto beside it (the few
# messages of containerd's gRPC API drift reads). grpcio-tools lives in a venv of its own: it
# pins its own protobuf, and drift needs only the runtime. The generated files are committed.
PROTO_VENV ?= .venv-proto
proto:
	@test -x $(PROTO_VENV)/bin/python || ($(PYTHON) -m venv $(PROTO_VENV) && $(PROTO_VENV)/bin/pip install -q grpcio-tools)
	cd drift/sources/containerd_api && $(abspath $(PROTO_VENV))/bin/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. containerd.proto

clean:
	rm -rf $(VENV) $(PROTO_VENV) .pytest_cache .mypy_cache .ruff_cache
