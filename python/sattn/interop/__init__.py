"""Bridges to other frameworks (optional extras): :mod:`sattn.interop.torch` exports sattn
patterns as PyTorch FlexAttention ``mask_mod`` functions and ``BlockMask`` objects."""
