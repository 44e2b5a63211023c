# mmioc_rtvp — the two set-up commands of a fresh machine are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= data/mmioc_mini
PYTEST_ARGS ?=
# tests use tiny tensors: one intra-op thread per process avoids thread
# oversubscription (measured: 14 s instead of 94 s for the detector tests on
# a loaded 2-core machine); set it to override
TEST_THREADS ?= 1

.PHONY: install data demo demo-full test test-fast clean-demo

install:  ## create $(VENV) and install the whole stack (idempotent, cached mmcv wheel)
	bash tools/install.sh

data: install  ## generate MMIOC-mini (deterministic, seconds; skipped when up to date) and its grounding split
	$(PY) tools/misc/make_mmioc_mini.py --out $(DATA)
	$(PY) tools/dataset_converters/make_grounding_split.py --data-root $(DATA)

demo: install data  ## train + test RTVPNet-S-mini on MMIOC-mini, draw predictions and prompt maps
	PATH="$(abspath $(VENV))/bin:$$PATH" bash tools/demo.sh

demo-full: install data  ## the same on the 40-epoch schedule (about twice as long)
	PATH="$(abspath $(VENV))/bin:$$PATH" DEMO_CONFIG=configs/rtvpnet_s_mini_40e.py bash tools/demo.sh

test: install  ## the whole test suite (unit + integration)
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest tests -q $(PYTEST_ARGS)

test-fast: install  ## unit tests only
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest tests -q -m "not integration" $(PYTEST_ARGS)
