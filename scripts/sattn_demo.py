#!/usr/bin/env python3
"""The `make demo` job: selection, lowering, RVV under qemu, RoCC under Verilator, reference
comparison and a short table on examples/input.mlir (see sattn.tools.demo)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from sattn.launch import launch

launch("sattn.tools.demo")
