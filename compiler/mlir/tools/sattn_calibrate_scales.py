#!/usr/bin/env python3
"""Derive symmetric i8/i4 scales for an MLIR attention op: prints the calibrate: line."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from sattn.launch import launch

launch("sattn.tools.calibrate_scales")
