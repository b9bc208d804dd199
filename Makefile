# The two set-up commands (`make test`, `make devnet`) must work on a fresh
# machine with only Python 3.11, Node.js/npm and Debian's packages: every
# target installs what it needs first, and re-installs only when the pinned
# inputs (pyproject.toml, package-lock.json) change.

PYTHON ?= python3.11
# The interpreter: $(PYTHON) on the PATH, else pyenv's build of that version (pyenv's shims
# run only the versions `pyenv global` names). Python 3.11 is the project's; 3.12 and 3.13
# are held by `make test-fast PYTHON=python3.13` in CI (.ci/run), each in its own
# environment, .venv-python3.13 beside .venv.
PYTHON_BIN := $(shell $(PYTHON) -c 'import sys' 2>/dev/null && echo $(PYTHON) || \
	ls -d "$$(pyenv root 2>/dev/null)"/versions/*/bin/$(PYTHON) 2>/dev/null | tail -n 1)
# Bytecode caches on (they are git-ignored), whatever the shell says: `make test` starts a
# few hundred interpreters (node processes, CLI calls, three pytest workers), and without
# them each compiles every module it imports again, pytest's assertion rewriting of the
# whole suite included (collection 11.6 s -> 4.4 s; a node's imports 1.43 -> 1.17 s).
unexport PYTHONDONTWRITEBYTECODE
VENV   := $(if $(filter python3.11,$(PYTHON)),.venv,.venv-$(PYTHON))
BIN    := $(VENV)/bin
PY_STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# The browser verifier, one self-contained page every node serves at /verify.
VERIFIER_PAGE := node/verifier/verify.html
VERIFIER_SOURCES := $(wildcard web/verifier/src/*.ts web/verifier/src/*/*.ts) \
	web/verifier/page.html web/verifier/build.mjs web/verifier/tsconfig.json
# The native proving core (native/, a Rust crate): rebuilt when its sources or lock change.
NATIVE_STAMP   := $(VENV)/.native-installed
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock native/pyproject.toml $(wildcard native/src/*.rs)
# cargo's build directory, shared by every checkout of this user as Go's build cache is:
# a fresh clone compiles the crate alone, not its dependencies again (about 20 s of blst,
# pyo3 and the rest); cargo locks it while it builds and rebuilds what changed.
NATIVE_TARGET  ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/clearnode/native-target
# The second consensus engine: the pinned CometBFT binary and the ABCI types generated
# from that release's .proto files (node/cometbft/pin.py), rebuilt when the pin changes.
COMETBFT_STAMP := $(VENV)/.cometbft-installed
# The wheels of the node's dependencies (clearnode-client's are among them: tests/client/
# test_modules.py holds it so) and of the two build backends, setuptools and hatchling, at
# this environment's versions: the tests install the SDK (tests/clearnode/client/
# install.py) and the release files (tests/test_dist.py) from them alone (pip --no-index),
# refilled when the pins change. `make test` fills it (`make wheelhouse` alone); the inner
# loop, `make test-fast`, and `make devnet` need none of its 60 MB.
WHEELHOUSE       := $(VENV)/wheelhouse
WHEELHOUSE_STAMP := $(VENV)/.wheelhouse-filled
# `make dist` writes the release files here.
DIST ?= dist
# Debian packages the tests need beyond Python and Node: a headless browser for
# the status-page screenshot and browser-verifier tests, promtool (in prometheus) to
# load the alert rules of configs/prometheus/, sqlite3, whose `.backup` and restore
# docs/production.md gives and tests/node/test_restore_backup.py runs, and faketime
# (libfaketime), which sets a validator's clock off in tests/node/test_clock_skew_processes.py.
DEB_PACKAGES := chromium faketime prometheus sqlite3
DEB_COMMANDS := chromium faketime promtool sqlite3

.PHONY: install system-packages wheelhouse dist test test-fast devnet bench lint clean

install: $(PY_STAMP) $(NATIVE_STAMP) $(COMETBFT_STAMP) $(NPM_STAMP) $(VERIFIER_PAGE) system-packages

system-packages:
	@( for c in $(DEB_COMMANDS); do command -v $$c >/dev/null || exit 1; done ) || { \
	  echo "installing Debian packages: $(DEB_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES); }

$(PY_STAMP): pyproject.toml
	test -n "$(PYTHON_BIN)" || { echo "no $(PYTHON) on the PATH or in pyenv's versions" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON_BIN) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[build,test]'
	# libp2p needs trio-typing at run time, but its stale trio-stubs shadow trio's own
	# annotations for mypy (no trio.TaskStatus, no abandon_on_cancel): drop the stubs only.
	rm -rf "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/trio-stubs"
	touch $@

# cargo builds from Cargo.lock (--locked): crates.io is the only network it needs.
$(NATIVE_STAMP): $(PY_STAMP) $(NATIVE_SOURCES)
	command -v cargo >/dev/null || { echo "the native core needs a Rust toolchain (cargo): https://rustup.rs" >&2; exit 1; }
	CARGO_TARGET_DIR=$(NATIVE_TARGET) VIRTUAL_ENV=$(CURDIR)/$(VENV) \
	  $(BIN)/maturin develop --quiet --release --locked -m native/Cargo.toml
	touch $@

# go install from the Go module proxy, checked against Go's checksum database; the
# module cache keeps the build, so a rebuild after `make clean` takes seconds.
$(COMETBFT_STAMP): $(PY_STAMP) node/cometbft/pin.py node/cometbft/build.py
	command -v go >/dev/null || { echo "the CometBFT engine needs a Go toolchain (go): https://go.dev/dl" >&2; exit 1; }
	$(BIN)/python -m node.cometbft.build $(VENV)
	touch $@

# pip wheel pinned by `pip freeze --all` (what the tests run with, the build backends
# included): wheels only, even of a dependency published as an sdist alone, so that an
# offline install builds nothing but our own two distributions. Filled beside and moved
# in whole.
wheelhouse: $(WHEELHOUSE_STAMP)

$(WHEELHOUSE_STAMP): $(PY_STAMP) client/pyproject.toml
	rm -rf $(WHEELHOUSE).partial && mkdir -p $(WHEELHOUSE).partial
	$(BIN)/python -m pip freeze --all --exclude-editable | grep '==' > $(WHEELHOUSE).partial/constraints.txt
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' \
	  > $(WHEELHOUSE).partial/requirements.txt
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --wheel-dir $(WHEELHOUSE).partial \
	  --constraint $(WHEELHOUSE).partial/constraints.txt \
	  --requirement $(WHEELHOUSE).partial/requirements.txt setuptools hatchling
	rm -rf $(WHEELHOUSE) && mv $(WHEELHOUSE).partial $(WHEELHOUSE)
	touch $@

# The release files: the node's and clearnode-client's sdists, and each one's wheel built
# from it, with this environment's setuptools and hatchling (no download). The node's
# wheel serves the browser verifier, so the page is built first; it holds no native core
# (native/, a Rust crate: `pip install ./native`). tests/test_dist.py installs them.
dist: $(PY_STAMP) $(VERIFIER_PAGE)
	mkdir -p $(DIST) && rm -f $(DIST)/clearnode-0* $(DIST)/clearnode_client-0*
	$(BIN)/python -m build --quiet --no-isolation --outdir $(DIST) .
	$(BIN)/python -m build --quiet --no-isolation --outdir $(DIST) client

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Type-checked (strict), then bundled with its wasm into one HTML file.
$(VERIFIER_PAGE): $(NPM_STAMP) package-lock.json $(VERIFIER_SOURCES)
	node_modules/.bin/tsc -p web/verifier
	node web/verifier/build.mjs $@

# Three workers (pytest-xdist): the network tests one at a time on one, at the cores' first
# call; the others yield to them (niceness 10) and take, the longest first, the process
# tests whose checks hold under load, then the in-process tests module by module
# (tests/parallel.py). PYTEST_ARGS=-n0 runs one process.
PARALLEL := -n 3 --dist loadgroup

test: install $(WHEELHOUSE_STAMP)
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/python -m pytest $(PARALLEL) $(PYTEST_ARGS)

# Everything but the chain, multi-process and slow tests: the inner loop.
test-fast: install
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/python -m pytest $(PARALLEL) -m "not chain and not multiprocess and not slow" $(PYTEST_ARGS)

devnet: install
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/clearnode devnet $(DEVNET_ARGS)

# `make bench` runs every benchmark; `make bench B=ledger` one of them.
bench: install
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/python -m bench $(or $(B),all)

LINTED := records clearing consensus lightclient proofs node bridge clearnode client devnet bench tests

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	node_modules/.bin/tsc -p web/verifier

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis .mypy_cache .ruff_cache
