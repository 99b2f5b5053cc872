// sattn-vectorize: RVV strip sizes; VLEN from the pass option, SATTN_VLEN, or 256.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize)' | filecheck %s
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize{vlen=512})' | filecheck %s --check-prefix=V512
// RUN: env SATTN_VLEN=128 %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize)' | filecheck %s --check-prefix=V128
// The option wins over the environment.
// RUN: env SATTN_VLEN=128 %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize{vlen=512})' | filecheck %s --check-prefix=V512

// fp32, D=64. VLEN=256: D needs 64*32/256 = 8 register groups, capped at m4: strips of 32,
// two of them. VLEN=512: m4 holds 64, one strip. VLEN=128: m4 holds 16, four strips.
"sattn.rvv_call"() { spec = "sliding_window", window_size = 8 : i64, head_dim = 64 : i64 } : () -> ()
// CHECK: vectorized, vector_strips = {vlen = 256 : i64, sew = 32 : i64, lmul = "m4", load_lmul = "m4", strip = 32 : i64, d_strips = 2 : i64, d_tail = 0 : i64}
// V512: vector_strips = {vlen = 512 : i64, sew = 32 : i64, lmul = "m4", load_lmul = "m4", strip = 64 : i64, d_strips = 1 : i64, d_tail = 0 : i64
// V128: vector_strips = {vlen = 128 : i64, sew = 32 : i64, lmul = "m4", load_lmul = "m4", strip = 16 : i64, d_strips = 4 : i64, d_tail = 0 : i64

// int8, D=40: bytes load at a quarter of the accumulator's group (m4 -> m1); 40 = 32 + 8.
"sattn.rvv_call"() { spec = "sliding_window", precision = "i8", window_size = 8 : i64, head_dim = 40 : i64 } : () -> ()
// CHECK: vector_strips = {vlen = 256 : i64, sew = 8 : i64, lmul = "m4", load_lmul = "m1", strip = 32 : i64, d_strips = 2 : i64, d_tail = 8 : i64

// bf16, D=16: 16*32/256 = 2 -> m2 accumulators, bf16 loads at m1, one strip of 16.
"sattn.rvv_call"() { spec = "bsr", precision = "bf16", head_dim = 16 : i64 } : () -> ()
// CHECK: vector_strips = {vlen = 256 : i64, sew = 16 : i64, lmul = "m2", load_lmul = "m1", strip = 16 : i64, d_strips = 1 : i64, d_tail = 0 : i64
// V512: vector_strips = {vlen = 512 : i64, sew = 16 : i64, lmul = "m1", load_lmul = "mf2", strip = 16 : i64

// The RoCC target has no vector unit: its calls are left alone.
"sattn.rocc_call"() { spec = "bsr" } : () -> ()
// CHECK: "sattn.rocc_call"() {spec = "bsr"} : () -> ()
