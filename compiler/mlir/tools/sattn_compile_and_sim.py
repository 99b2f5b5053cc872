#!/usr/bin/env python3
"""Lower an MLIR attention op for the RoCC accelerator, run it on the RTL under Verilator and
compare the output with the reference."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from sattn.launch import launch

launch("sattn.tools.compile_and_sim")
