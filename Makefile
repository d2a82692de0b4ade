# One place for set-up, tests and benchmarks. Everything installs into .venv from scratch.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: install system-deps test test-slow bench demo clean

# Debian packages: FluidSynth and the FluidR3 General MIDI soundfont (MIT) for the offline renderer.
SOUNDFONT := /usr/share/sounds/sf2/FluidR3_GM.sf2
system-deps:
	@if [ ! -f $(SOUNDFONT) ] || ! ldconfig -p | grep -q libfluidsynth; then \
		apt-get update -q && apt-get install -y -q fluidsynth fluid-soundfont-gm; fi

install: system-deps $(STAMP)

# Order matters: torch 2.13.0 (local CPU wheel) first, the physicsnemo reference without its
# dependency list, then our package constrained to that torch.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps nvidia-physicsnemo==1.3.0
	$(PIP) install -q -c constraints.txt -e '.[reference,test]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -m "not slow and not gpu"

test-slow: install
	$(PY) -m pytest -m slow

bench: install
	$(PY) -m jaxaccomp.bench.step_time --preset small --batch 1 4 --json bench-results/step_time_small.json

# The main job on the embedded default: render a short song, start serve.py with the shipped model,
# stream the song through the reference client in real time over loopback, write demo/*.wav, the
# latency report and the server log, and stop the server.
demo: install
	$(PY) -m jaxaccomp.demo --out demo

clean:
	rm -rf $(VENV) bench-results demo .pytest_cache
