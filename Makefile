# sattn — two commands on a fresh Debian machine with Python 3.11 and root:
#   make demo   set up everything that is missing, then run the main job on the example
#   make test   the same set-up, then the whole test suite
# Set-up is idempotent: each step is skipped when its result is current.

SHELL    := /bin/bash
PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
STAMPS   := $(VENV)/.stamps
APT_PKGS := qemu-user verilator
LAUNCHER := build/mlir/tools/sattn-opt/sattn-opt
SIM      := hw/sim/obj_dir/Vrocc_sattn
JOBS     ?= 2

.PHONY: setup demo test test-slow bench lint clean apt venv launcher zig-warm hwsim

setup: apt venv launcher zig-warm hwsim

apt:
	@missing=""; \
	command -v qemu-riscv64 >/dev/null || missing="$$missing qemu-user"; \
	command -v verilator >/dev/null || missing="$$missing verilator"; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing apt packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

# Reinstall when the package metadata changes.
$(STAMPS)/pip: python/pyproject.toml | $(VPY)
	@# torch (CPU, 2.13.0), ray and iree are optional extras of the package; the tests use torch as an
	@# independent oracle, start a local Ray instance for `sattn sweep --executor ray` and run IREE as the
	@# outside RVV peer (bench/rvv_vs_iree.py). This machine kind keeps its wheel in /opt/wheels, so look there first.
	$(VPY) -m pip install -q $(if $(wildcard /opt/wheels),--find-links /opt/wheels) -e "python[dev,plot,torch,ray,iree]"
	@mkdir -p $(STAMPS) && touch $@

venv: $(STAMPS)/pip
	@# The spec's commands name /opt/venv/bin/python; point it at this venv unless it is someone else's.
	@if [ ! -e /opt/venv ] || [ -L /opt/venv ]; then ln -sfn "$(CURDIR)/$(VENV)" /opt/venv 2>/dev/null || true; fi

launcher: $(LAUNCHER)
$(LAUNCHER): Makefile
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\n# sattn-opt launcher created by `make setup`\nexec "%s/$(VENV)/bin/sattn-opt" "$$@"\n' "$(CURDIR)" > $@
	@chmod +x $@

# The first zig compile builds its libc cache (~30 s); do it once here, not inside a test.
zig-warm: $(STAMPS)/pip
	@$(VPY) -m sattn.backends.rvv.build --warm

hwsim: $(STAMPS)/pip
	@$(VPY) -m sattn.backends.rocc.build --unit

demo: setup
	$(VPY) scripts/sattn_demo.py

# SATTN_REQUIRE_TOOLS turns every "tool missing" skip into a failure: CI always has the tools.
test: setup
	SATTN_REQUIRE_TOOLS=1 $(VPY) -m pytest -q -n $(JOBS) tests

test-slow: setup
	SATTN_REQUIRE_TOOLS=1 $(VPY) -m pytest -q -n $(JOBS) -m slow tests

bench: setup
	for b in bench/*.py; do $(VPY) $$b || exit 1; done

lint: $(STAMPS)/pip
	$(VPY) -m ruff check python tests bench

clean:
	rm -rf build hw/sim/obj_dir $(VENV)
