# Two commands for a newcomer: `make demo` and `make test`. Both build .venv from
# requirements.lock (exact versions) on first use; nothing else needs installing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SEED   ?= 7

.PHONY: demo test lab synth bench lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tipdrift demo --data data/synthetic --context context_log --out out

test: $(STAMP)
	$(BIN)/python -m pytest -q

lab: $(STAMP)
	$(BIN)/jupyter lab --config=jupyter/jupyter_server_config.py --ServerApp.open_browser=True --ServerApp.root_dir=. notebooks/explore.ipynb

# Regenerate the committed synthetic set (see README for the seed).
synth: $(STAMP)
	$(BIN)/tipdrift synth data/synthetic --seed $(SEED) --context-dir context_log

# Speed figures for benchmarks/README.md (several minutes; the linkage one generates 10M arrests).
bench: $(STAMP)
	$(BIN)/python benchmarks/drift_bench.py
	$(BIN)/python benchmarks/report_bench.py
	$(BIN)/python benchmarks/link_bench.py

lock:
	@echo "Regenerate requirements.lock from a fresh venv with the declared dependencies."
	rm -rf /tmp/tipdrift-lock && $(PYTHON) -m venv /tmp/tipdrift-lock
	/tmp/tipdrift-lock/bin/pip install -q '.[dev,bench]' playwright
	{ echo "# Exact versions for reproducible runs and reports. Regenerate with: make lock"; \
	  /tmp/tipdrift-lock/bin/pip freeze --all | grep -v -i '^tipdrift' | grep -v '^pip=='; } > requirements.lock

clean:
	rm -rf $(VENV) out reports .pytest_cache
