# Two commands: `make demo` and `make test`. Both create .venv on first use; later runs
# reinstall only when pyproject.toml or constraints.txt changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.procdream-installed
EXTRAS ?= blender,engine,ray,dev
UV_VERSION := 0.13.9

.PHONY: demo test lint venv extension bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "ProcDream needs Python 3.11 (bpy 5.0.1 is built for it); set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python --constraint constraints.txt --editable ".[$(EXTRAS)]"
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/gen_dataset.py --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

extension: $(STAMP)
	$(BIN)/python scripts/build_extension.py --out dist

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) dist out wheels build *.egg-info .pytest_cache .ruff_cache
