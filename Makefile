# pacer: make demo | test | bench | lint. Each creates .venv with the project installed when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PACER := $(VENV)/bin/pacer
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser demo test bench lint calibrate calibrate-device serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ray,mpi,device]'
	@touch $(STAMP)

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "installing chromium with apt"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(PACER) catalog accelerators
	$(PACER) catalog models
	$(PACER) size inference --model llama-3.1-70b --accelerator h100-sxm --count 2 --precision fp8 \
		--input-tokens 1000 --output-tokens 1000
	$(PACER) size inference --model command-a --accelerator h100-sxm --count 2 --precision fp8 \
		--input-tokens 2000 --output-tokens 500 --tpot-ms 50 --rate 40
	$(PACER) size training --model llama-3.1-405b --tokens 15.6e12 --accelerator h100-sxm --gpus 16384
	$(PACER) size search --model llama-3.1-70b --input-tokens 1000 --output-tokens 1000 --tpot-ms 50 \
		--plot out/pareto-llama-3.1-70b.html
	$(PACER) demand examples/seed-2025/scenario.yaml --plot out/demand-seed-2025.html
	$(PACER) plan examples/seed-2025/scenario.yaml
	$(PACER) simulate examples/seed-2025/scenario.yaml
	$(PACER) report --scenario examples/seed-2025/scenario.yaml -o out/report-seed-2025.html

# Tests run on every core (pytest-xdist), a file's tests on one worker (its module fixtures are built once);
# the seed's runs are shared by the workers (tests/conftest.py: once_per_session).
test: install browser
	$(PY) -m pytest -q -n auto --dist loadfile

bench: install
	@$(PY) benchmarks/run_all.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

serve: install
	$(PACER) serve --scenario examples/seed-2025/scenario.yaml

calibrate: install
	$(PY) -m pacer.sizing.calibration --write

# On a machine with a GPU: time GEMMs, attention and decode steps, fit per-operation efficiencies and
# keep both in catalog/device/<date>-<accelerator>/ (ACCELERATOR = catalog id of the local GPU).
ACCELERATOR ?= h100-sxm
calibrate-device: install
	$(PY) src/pacer/sizing/device_timing.py --out out/device-timing
	$(PY) -m pacer.sizing.device_fit out/device-timing --accelerator $(ACCELERATOR) --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis out
