# Ridewire: `make run` starts everything on the embedded database, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
UV := $(VENV)/bin/uv
# `$(INSTALL) <requirements>`: with uv (installed into the virtualenv by pip; much
# faster than pip on a cold cache), or with pip when uv could not be installed.
INSTALL = if [ -x $(UV) ]; then set -- $(UV) pip install --compile-bytecode --python $(PY); \
	else set -- $(PIP) install; fi; "$$@" --quiet
# The embedded database's data (`make run` without MONGO_URI); the same variable as devserver's.
DATA_DIR ?= .data/db
# `make test`'s parallel pytest processes (pytest-xdist): one per core by default; each one
# starts its own SecantusDB and servers. More than the cores was no faster on 2 cores.
PYTEST_WORKERS ?= auto

.PHONY: run test lint bench soak serve up clean reset install install-dev

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check uv || \
	  { echo "uv could not be installed: pip installs the packages (slower)"; \
	    $(PIP) install --quiet --upgrade pip || true; }

$(VENV)/.installed-embedded: pyproject.toml | $(PY)
	$(INSTALL) -e '.[embedded]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(INSTALL) -e '.[dev,embedded]'
	touch $@

install: $(VENV)/.installed-embedded
install-dev: $(VENV)/.installed-dev

## run: embedded SecantusDB (unless MONGO_URI is set) + auth (5001) + realtime (5002)
## under gunicorn + the gateway (5000)
run: install
	$(PY) -m devserver

## serve: the same, with production's auth workers (AUTH_WORKERS, else one per core)
## instead of one
serve: install
	AUTH_WORKERS=$${AUTH_WORKERS:-$$(nproc)} $(PY) -m devserver

## test: the whole suite against a throwaway SecantusDB (and Redis for scale-out tests), in
## PYTEST_WORKERS parallel processes (0: one process). The fast loop (in-process and
## cheap served tests, under 2 minutes): make test PYTEST_ARGS="-m 'not slow'"
test: install-dev
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## bench: the load scenarios of BENCHMARKS.md (`make bench SCENARIO=n` for one), about 29 min
## (scenario 9, call signaling, about 5 of them; 14, churn at scale, about 5; BENCH_SERVER_TREE=DIR
## serves its realtime process from another tree, for an A/B) plus scenario 8 (side by side with the Node peers named by BENCH_PEER_UBER and
## BENCH_PEER_QUICKCHAT; Ridewire's side alone without them)
bench: install-dev
	$(PY) -m bench $(SCENARIO)

lint: install-dev
	$(VENV)/bin/ruff check .

up:
	docker compose up --build

## clean: remove the virtualenv and caches (keeps the data: see `make reset`)
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

## reset: delete the embedded database's data ($(DATA_DIR)): the next `make run` starts empty
## (new demo accounts). Asks nothing; stop `make run` first.
reset:
	@if [ -z "$(DATA_DIR)" ]; then echo "DATA_DIR is empty: nothing removed"; \
	elif [ -e "$(DATA_DIR)" ]; then rm -rf -- "$(DATA_DIR)" && \
	  echo "removed $(DATA_DIR) (the embedded database: accounts, rides, messages, places)"; \
	else echo "nothing to remove: $(DATA_DIR) does not exist"; fi

## soak: ~10 minutes, 1,000 clients chatting and riding (bench/soak.py; SOAK_ARGS="--minutes 2")
soak: install-dev
	$(PY) -m bench.soak full $(SOAK_ARGS)
