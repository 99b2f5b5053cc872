#!/usr/bin/env python3
"""Write the index table (S.txt) and descriptor (S.desc) of an MLIR attention op."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from sattn.launch import launch

launch("sattn.tools.emit_artifacts")
