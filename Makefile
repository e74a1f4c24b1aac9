# Two commands for a newcomer: `make demo` and `make test`. Both build .venv from
# requirements.lock (exact versions) on first use; nothing else needs installing.
# They need Python 3.11 or newer: `make PYTHON=python3.12 demo` picks another interpreter
# (run `make clean` first to rebuild an existing .venv with it).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SEED   ?= 7
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: demo test lab synth bench lock lock-check clean

# First step of every recipe that uses $(PYTHON): one line and a failure unless it is a
# Python >= 3.11 that can make a venv.
CHECK_PYTHON = found=$$($(PYTHON) -c 'import sys; print("Python", sys.version.split()[0], "(" + sys.executable + ")"); sys.exit(sys.version_info < (3, 11))' 2>/dev/null) \
	  || { echo "tipdrift needs Python 3.11 or newer, but PYTHON=$(PYTHON) is $${found:-not a command that runs}: install one and name it, e.g. make PYTHON=python3.12 $(or $(MAKECMDGOALS),demo)" >&2; exit 1; }; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null \
	  || { echo "PYTHON=$(PYTHON) ($$found) cannot create virtual environments: install its venv module (Debian/Ubuntu: apt-get install python3-venv) or name another, e.g. make PYTHON=python3.12 $(or $(MAKECMDGOALS),demo)" >&2; exit 1; }

# The stamp exists only for a complete .venv. Without it, .venv is rebuilt from scratch;
# if any step fails, .venv is removed, so the next run starts afresh instead of reusing it.
$(STAMP): requirements.lock pyproject.toml
	@$(CHECK_PYTHON)
	@if [ -f $(STAMP) ] && $(BIN)/python -c '' 2>/dev/null; then \
	  echo "Updating $(VENV) to requirements.lock"; rm -f $(STAMP); \
	else \
	  echo "Creating $(VENV) with $(PYTHON) and installing requirements.lock (a few minutes)"; rm -rf $(VENV); \
	fi; \
	{ test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } \
	&& $(PIP) -r requirements.lock \
	&& $(PIP) --no-deps --no-build-isolation -e . \
	&& touch $(STAMP) \
	|| { rm -rf $(VENV); echo "Setting up $(VENV) failed (see above); removed it, so the next make starts afresh." >&2; exit 1; }

demo: $(STAMP)
	$(BIN)/tipdrift demo --data data/synthetic --context context_log --out out

test: $(STAMP)
	$(BIN)/python -m pytest -q

# JupyterLab refuses to run as root unless told to (containers, CI machines).
lab: $(STAMP)
	$(BIN)/jupyter lab --config=jupyter/jupyter_server_config.py --ServerApp.open_browser=True --ServerApp.root_dir=. \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/explore.ipynb

# Regenerate the committed synthetic set (see README for the seed).
synth: $(STAMP)
	$(BIN)/tipdrift synth data/synthetic --seed $(SEED) --context-dir context_log

# Speed figures for benchmarks/README.md (several minutes; the linkage one generates 10M arrests).
bench: $(STAMP)
	$(BIN)/python benchmarks/drift_bench.py
	$(BIN)/python benchmarks/report_bench.py
	$(BIN)/python benchmarks/link_bench.py

# soupsieve 3.x needs Python >= 3.11.5 (possessive quantifiers in re are broken before it); the lock
# must install on every Python >= 3.11, hence the cap; lock-check then proves it for 3.11.0.
# wheel is there for the --no-build-isolation editable install (setuptools 65 needs it).
lock:
	@$(CHECK_PYTHON)
	@echo "Regenerate requirements.lock from a fresh venv with the declared dependencies."
	rm -rf /tmp/tipdrift-lock && $(PYTHON) -m venv /tmp/tipdrift-lock
	echo 'soupsieve<3' > /tmp/tipdrift-lock/constraints.txt
	/tmp/tipdrift-lock/bin/pip install -q -c /tmp/tipdrift-lock/constraints.txt '.[dev,bench]' playwright wheel
	{ echo "# Exact versions for reproducible runs and reports. Regenerate with: make lock"; \
	  /tmp/tipdrift-lock/bin/pip freeze --all | grep -v -i '^tipdrift' | grep -v '^pip=='; } > requirements.lock
	$(MAKE) --no-print-directory lock-check

# Resolve requirements.lock as Python 3.11.0 would (no install): every pin must allow it.
lock-check:
	@$(CHECK_PYTHON)
	rm -rf /tmp/tipdrift-lock-check && $(PYTHON) -m venv /tmp/tipdrift-lock-check
	grep -v '^pyspark==' requirements.lock > /tmp/tipdrift-lock-check/wheels.txt
	/tmp/tipdrift-lock-check/bin/pip install --quiet --disable-pip-version-check --dry-run --ignore-installed \
	  --only-binary=:all: --python-version 3.11.0 --target /tmp/tipdrift-lock-check/t -r /tmp/tipdrift-lock-check/wheels.txt
	@# pyspark is published as source only: its own Requires-Python (>=3.9) is checked by installing it here (py4j, its one dependency, above)
	/tmp/tipdrift-lock-check/bin/pip install --quiet --disable-pip-version-check --dry-run --ignore-installed --no-deps \
	  --target /tmp/tipdrift-lock-check/s $$(grep '^pyspark==' requirements.lock)
	@echo "requirements.lock resolves for Python 3.11.0"

clean:
	rm -rf $(VENV) out reports .pytest_cache
