# One place for set-up, tests and benchmarks. Everything installs into .venv from scratch.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: install system-deps test test-slow bench bench-gpu gpu-wheels demo max clean gpu-data gpu-recipe

# Debian packages: FluidSynth and the FluidR3 General MIDI soundfont (MIT) for the offline renderer;
# CMake, g++ and Pure Data (with its headers) for the C++ clients in max/ and their tests in real Pd;
# Node.js to test the RTAP patch's server start/stop script (Max runs it in node.script); Chromium
# for the browser page's tests (headless, driven by Playwright).
SOUNDFONT := /usr/share/sounds/sf2/FluidR3_GM.sf2
system-deps:
	@if [ ! -f $(SOUNDFONT) ] || ! ldconfig -p | grep -q libfluidsynth || ! command -v cmake >/dev/null \
		|| ! command -v g++ >/dev/null || ! command -v pd >/dev/null || [ ! -f /usr/include/pd/m_pd.h ] \
		|| ! command -v node >/dev/null || ! command -v chromium >/dev/null; then \
		apt-get update -q && apt-get install -y -q fluidsynth fluid-soundfont-gm cmake g++ puredata-core \
		puredata-dev nodejs chromium; fi

install: system-deps $(STAMP)

# Order matters: torch 2.13.0 (local CPU wheel) first, the physicsnemo reference without its
# dependency list, then our package constrained to that torch. beat-this (the paper's beat tracker)
# and torchvggish (the independent VGGish the tests compare ours with) skip their dependency lists,
# which would replace torch; what they need comes with the [paper] extra.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps nvidia-physicsnemo==1.3.0
	$(PIP) install -q -c constraints.txt -e '.[torch,reference,test,paper]'
	$(PIP) install -q --no-deps beat-this==1.1.0 torchvggish==0.2
	touch $(STAMP)

test: install
	$(PY) -m pytest -m "not slow and not gpu"

test-slow: install
	$(PY) -m pytest -m slow

bench: install
	$(PY) -m jaxaccomp.bench.step_time --preset small --batch 1 4 --json bench-results/step_time_small.json

# Every GPU measurement in one run (docs/benchmarks.md, "GPU"): about 8 minutes on one H100/H200, results
# in docs/results/device_suite_<device>.{json,md}. Needs CUDA builds of jax and torch in the Python
# that runs it: `make bench-gpu PY=python3` for a machine's own (docs/install.md, "GPU").
bench-gpu:
	$(PY) -m jaxaccomp.bench.device_suite $(ARGS)

# Wheels for a GPU machine without internet whose Python (GPU_PYTHON) already holds CUDA builds of jax,
# flax, optax, orbax-checkpoint and torch: what the device suite imports beyond them (the torch
# reference U-Net and what it loads, Music2Latent, soundfile). There, from this checkout:
# pip install --no-index --no-deps --target /tmp/site gpu-wheels/*.whl; PYTHONPATH=/tmp/site:. make bench-gpu PY=python3
GPU_PYTHON ?= 3.12
GPU_WHEELS ?= gpu-wheels
# The last line is what train.py/distill.py add (the data pipeline and the metrics log). Do not bring
# flax: a flax wheel that does not match the machine's jax fails at import (0.12.8 on jax 0.11.2 did).
GPU_WHEEL_SET := music2latent==0.1.8 nvidia-physicsnemo==1.3.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 \
	s3fs==2026.9.0 aiobotocore==3.10.0 botocore==1.43.117 jmespath==1.1.0 aioitertools==0.13.0 nvtx==0.2.17 \
	grain==0.2.18 array_record==0.8.6 portpicker==1.6.0 tensorboardX==2.6.5
gpu-wheels:
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version $(GPU_PYTHON) --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		--platform any -d $(GPU_WHEELS) $(GPU_WHEEL_SET)

# The main job on the embedded default: render a short song, start serve.py with the shipped model,
# stream the song through the reference client in real time over loopback, write demo/*.wav, the
# latency report and the server log, and stop the server.
demo: install
	$(PY) -m jaxaccomp.demo --out demo

# The C++ clients (core, driver, Pd external, the Max wrapper's shim check) and their unit tests;
# `make test` builds them too (tests/support/max_build.py) and runs these tests in pytest.
max: system-deps
	cmake -S max -B max/build -DCMAKE_BUILD_TYPE=Release
	cmake --build max/build -j2
	ctest --test-dir max/build --output-on-failure

# The embedded tier's training data, made on CPU before a GPU is lent (resumable; reruns skip what
# exists): 5 h of rendered train songs, 28 validation songs (validation needs one batch of 256 windows
# of 64 frames: 12 songs hold 125), their embedded-codec latent caches, in int8 (about 20 MB per hour
# of 4-stem latents) so they can be carried to a rented machine.
GPU_DATA ?= gpu-data
gpu-data: install
	$(PY) -m jaxaccomp.data.render --out $(GPU_DATA)/songs --hours 5 --split train --seed 0 --workers $$(nproc)
	$(PY) -m jaxaccomp.data.render --out $(GPU_DATA)/songs --songs 28 --split validation --seed 0 --workers $$(nproc)
	$(PY) -m jaxaccomp.data.latent_cache --data $(GPU_DATA)/songs --split train --out $(GPU_DATA)/cache/train \
		--codec embedded --chunk 256 --overlap 0 --batch 4 --dtype int8 --workers $$(nproc)
	$(PY) -m jaxaccomp.data.latent_cache --data $(GPU_DATA)/songs --split validation --out $(GPU_DATA)/cache/validation \
		--codec embedded --chunk 256 --overlap 0 --batch 4 --dtype int8 --workers $$(nproc)

# On one H100/H200: the teacher then its consistency student from the prepared caches
# (docs/training.md, "GPU recipe"); the models land in runs/frames_gpu*/best_model.
gpu-recipe: gpu-data
	$(PY) train.py --config frames_gpu --train-cache $(GPU_DATA)/cache/train --val-cache $(GPU_DATA)/cache/validation
	$(PY) distill.py --config frames_gpu --teacher runs/frames_gpu/best_model \
		--train-cache $(GPU_DATA)/cache/train --val-cache $(GPU_DATA)/cache/validation

clean:
	rm -rf $(VENV) bench-results demo .pytest_cache max/build
