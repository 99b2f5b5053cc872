// sattn-vectorize: the RVV strip plan the kernel runs; VLEN from the pass option, SATTN_VLEN,
// or 256; LMUL from the pass option, else m8 (what the kernel runs by default).
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize)' | filecheck %s
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize{vlen=512})' | filecheck %s --check-prefix=V512
// RUN: env SATTN_VLEN=128 %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize)' | filecheck %s --check-prefix=V128
// The option wins over the environment.
// RUN: env SATTN_VLEN=128 %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize{vlen=512})' | filecheck %s --check-prefix=V512
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-vectorize{lmul=2})' | filecheck %s --check-prefix=M2

// fp32, D=64: strips of VLEN * 8 / 32 keys (and D chunks of P.V). VLEN=256: 64, D in one
// chunk. VLEN=512: 128 (D=64 is the last, partial chunk). VLEN=128: 32, two chunks. m2: 16.
"sattn.rvv_call"() { spec = "sliding_window", window_size = 8 : i64, head_dim = 64 : i64 } : () -> ()
// CHECK: vectorized, vector_strips = {vlen = 256 : i64, sew = 32 : i64, lmul = "m8", load_lmul = "m8", strip = 64 : i64, d_strips = 1 : i64, d_tail = 0 : i64}
// V512: vector_strips = {vlen = 512 : i64, sew = 32 : i64, lmul = "m8", load_lmul = "m8", strip = 128 : i64, d_strips = 1 : i64, d_tail = 64 : i64
// V128: vector_strips = {vlen = 128 : i64, sew = 32 : i64, lmul = "m8", load_lmul = "m8", strip = 32 : i64, d_strips = 2 : i64, d_tail = 0 : i64
// M2: vector_strips = {vlen = 256 : i64, sew = 32 : i64, lmul = "m2", load_lmul = "m2", strip = 16 : i64, d_strips = 4 : i64, d_tail = 0 : i64

// int8, D=40: bytes load at a quarter of the accumulator's group (m8 -> m2); 40 < 64.
"sattn.rvv_call"() { spec = "sliding_window", precision = "i8", window_size = 8 : i64, head_dim = 40 : i64 } : () -> ()
// CHECK: vector_strips = {vlen = 256 : i64, sew = 8 : i64, lmul = "m8", load_lmul = "m2", strip = 64 : i64, d_strips = 1 : i64, d_tail = 40 : i64
// M2: vector_strips = {vlen = 256 : i64, sew = 8 : i64, lmul = "m2", load_lmul = "mf2", strip = 16 : i64, d_strips = 3 : i64, d_tail = 8 : i64

// bf16, D=16: bf16 loads at half the accumulator's group (m8 -> m4).
"sattn.rvv_call"() { spec = "bsr", precision = "bf16", head_dim = 16 : i64 } : () -> ()
// CHECK: vector_strips = {vlen = 256 : i64, sew = 16 : i64, lmul = "m8", load_lmul = "m4", strip = 64 : i64, d_strips = 1 : i64, d_tail = 16 : i64
// V512: vector_strips = {vlen = 512 : i64, sew = 16 : i64, lmul = "m8", load_lmul = "m4", strip = 128 : i64

// The RoCC target has no vector unit: its calls are left alone.
"sattn.rocc_call"() { spec = "bsr" } : () -> ()
// CHECK: "sattn.rocc_call"() {spec = "bsr"} : () -> ()
