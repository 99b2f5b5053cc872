#!/usr/bin/env python3
"""Run an MLIR attention op on rvv, sim (RoCC RTL), the reference or all of them, and print
their counters as one table (see sattn.tools.profile)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from sattn.launch import launch

launch("sattn.tools.profile")
