// sattn-fuse-softmax: the fused QK -> online softmax -> PV region and its state.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-fuse-softmax)' | filecheck %s

// fp32, tile_M=16 rows, D=32: state = 4*(2*16 + 16*32) = 2176 bytes instead of a 16x128
// fp32 score tile (8192 bytes); scale 1/sqrt(32).
"sattn.sparse_attention"() { window_size = 8 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: fused_softmax, softmax_region = {stages = ["gather_kv", "qk", "online_softmax", "pv", "normalize"], rows = 16 : i64, head_dim = 32 : i64, state_bytes = 2176 : i64, unfused_score_bytes = 8192 : i64, scale = 0.17677669529663687 : f64}

// int8: integer QK, then dequantisation by scale_q*scale_k = 0.0025 (default scales 0.05).
"sattn.sparse_attention"() { precision = "i8", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: stages = ["gather_kv", "qk_int32", "dequant", "online_softmax", "pv", "normalize"]
// CHECK-SAME: dequant_scale = 0.0025000000000000005 : f64

// bf16 widens before QK; landmark compresses K/V first; dense needs no gather.
"sattn.sparse_attention"() { precision = "bf16", num_landmarks = 8 : i64 } : () -> ()
// CHECK: stages = ["compress_kv", "gather_kv", "widen_bf16", "qk", "online_softmax", "pv", "normalize"]
"sattn.sparse_attention"() { spec = "dense", causal = 1 : i64 } : () -> ()
// CHECK: stages = ["qk", "online_softmax", "pv", "normalize"]
