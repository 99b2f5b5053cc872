"""Outside peers of the RVV kernels, run under the same qemu with the same counting plugin
(:mod:`sattn.backends.rvv.peer.iree`: dense attention compiled by IREE)."""
