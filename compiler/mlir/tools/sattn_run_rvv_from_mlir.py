#!/usr/bin/env python3
"""Lower an MLIR attention op with sattn-lower-rvv and run its RVV kernel under qemu-riscv64."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from sattn.launch import launch

launch("sattn.tools.run_rvv")
