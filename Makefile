# Two commands: `make demo` and `make test`. Both create .venv on first use; later runs
# reinstall only when pyproject.toml or constraints.txt changed. `make test` also runs the
# compatibility subset (pytest -m compat) on each Blender LTS release, each in its own venv
# (.venv-bpy-<version>) made the same way.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.procdream-installed
EXTRAS ?= blender,engine,ray,dev
UV_VERSION := 0.13.9
# Blender LTS releases the manifest promises (blender_version_min = 4.2.0), tested beside bpy 5.0.1.
LTS_BPY ?= 4.2.23 4.5.15

.PHONY: demo test test-main lint venv venvs extension bench clean $(LTS_BPY:%=test-bpy-%)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "ProcDream needs Python 3.11 (bpy 5.0.1 is built for it); set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python --constraint constraints.txt --editable ".[$(EXTRAS)]"
	@touch $@

venv: $(STAMP)

# An LTS venv: the blender and dev extras at the tested versions, bpy overridden (the blender extra
# and constraints.txt pin 5.0.1). No engine extra: the add-on's jobs run the engine from .venv.
.venv-bpy-%/.procdream-installed: pyproject.toml constraints.txt | $(STAMP)
	@test -x .venv-bpy-$*/bin/python || $(PYTHON) -m venv .venv-bpy-$*
	grep -v '^bpy==' constraints.txt > .venv-bpy-$*/constraints.txt
	echo 'bpy==$*' > .venv-bpy-$*/overrides.txt
	$(BIN)/uv pip install --python .venv-bpy-$*/bin/python --constraint .venv-bpy-$*/constraints.txt \
		--override .venv-bpy-$*/overrides.txt --editable ".[blender,dev]"
	@touch $@

venvs: $(STAMP) $(LTS_BPY:%=.venv-bpy-%/.procdream-installed)

demo: $(STAMP)
	$(BIN)/python scripts/gen_dataset.py --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint test-main $(LTS_BPY:%=test-bpy-%)

test-main: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The compatibility subset on one LTS release, e.g. `make test-bpy-4.2.23`.
# A static pattern rule: make skips implicit rules for phony targets.
$(LTS_BPY:%=test-bpy-%): test-bpy-%: .venv-bpy-%/.procdream-installed
	PROCDREAM_TEST_ENGINE_PYTHON=$(abspath $(BIN)/python) .venv-bpy-$*/bin/python -m pytest -m compat $(PYTEST_ARGS)

extension: $(STAMP)
	$(BIN)/python scripts/build_extension.py --out dist

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .venv-bpy-* dist out wheels build *.egg-info .pytest_cache .ruff_cache
