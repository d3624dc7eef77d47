# Two entry points: `make demo` (main job) and `make test` (every test). Both set up .venv first.
# TORCH is the PyTorch requirement installed before mypt; on a GPU server with your own
# PyTorch, run `make demo TORCH=` to keep it.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
TORCH  ?= torch==2.13.0
RUN_DIR ?= runs/demo

.PHONY: setup demo test test-nbs test-py check-nbs docs clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(TORCH),$(BIN)/python -m pip install -q "$(TORCH)")
	$(BIN)/python -m pip install -q -e ".[dev,hf]"
	touch $@

demo: setup
	$(BIN)/mypt demo --run_dir $(RUN_DIR)

check-nbs: setup
	$(BIN)/python scripts/check_notebooks.py

test-nbs: setup
	cd nbs && ../$(BIN)/nbdev_test --n_workers 2

test-py: setup
	$(BIN)/python -m pytest tests

test: setup check-nbs test-nbs test-py

docs: setup
	$(BIN)/python scripts/build_docs.py

clean:
	rm -rf $(VENV) _docs _proc runs build *.egg-info
