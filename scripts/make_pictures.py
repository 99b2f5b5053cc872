#!/usr/bin/env python3
"""Write docs/img/<pattern>.png, one picture per sparsity pattern (see sattn.tools.pictures)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from sattn.launch import launch

launch("sattn.tools.pictures")
