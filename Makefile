# The two commands: `make run` and `make test`. Both set up .venv first (idempotent).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --disable-pip-version-check -q
ARGS ?=

.PHONY: install run test chaos lint unit clean

# pytest's exit code 5 (no tests collected) is a failure too.
STRICT := rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU build of this version is on local disk, any other one
	# would pull several GB of CUDA build.
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The demo: anyone may open any user's page on the movie site, as on SparrowRecSys's (an
# exported STARLING_PUBLIC_USER_DATA wins). `make run ARGS=--dashboard` adds Ray's dashboard.
run: install
	STARLING_PUBLIC_USER_DATA=$${STARLING_PUBLIC_USER_DATA:-true} $(BIN)/starling up $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: install
	$(BIN)/pytest tests/unit -q

# Everything: unit, integration, e2e (browser tests included) and chaos. The unit tests are
# CPU-bound and share nothing, so they take both cores; the rest start Ray, Serve and servers
# of their own and run one at a time.
test: lint
	@$(BIN)/pytest tests/unit -q -p no:cacheprovider -n 2; $(STRICT)
	@$(BIN)/pytest -q -p no:cacheprovider --ignore=tests/unit --durations=40; $(STRICT)

# The fault tests alone (killed replicas and ingests, a restarted Redis, a long schemathesis
# run), which `make test` runs too.
chaos: install
	@$(BIN)/pytest tests/chaos -q -p no:cacheprovider --durations=20; $(STRICT)

clean:
	rm -rf $(VENV) .starling
