"""The NumPy reference: the semantics every backend matches.

- :mod:`sattn.reference.data` — synthetic sine/cosine tensors and ``.npy`` loading;
- :mod:`sattn.reference.precision` — fp32 / bf16 / i8 / i4 operands (shared with the backends);
- :mod:`sattn.reference.executor` — masked sparse attention, the ``reference`` backend;
- :mod:`sattn.reference.calibrate` — i8/i4 scale calibration;
- :mod:`sattn.reference.compare` — the error measure and tolerances.
"""
