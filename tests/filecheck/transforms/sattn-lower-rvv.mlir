// sattn-lower-rvv = select-spec, lower-to-rvv, vectorize, bufferize.
// RUN: %sattn-opt %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rvv)' | filecheck %s
// The same as the four passes spelled out:
// RUN: %sattn-opt %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-select-spec,sattn-lower-to-rvv,sattn-vectorize,sattn-bufferize)' | filecheck %s
// The launcher at the spec's path, and stdin:
// RUN: %launcher %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rvv)' | filecheck %s
// RUN: cat %s | %launcher --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rvv)' | filecheck %s
// Pipeline options reach sattn-vectorize:
// RUN: %sattn-opt %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rvv{vlen=512})' | filecheck %s --check-prefix=V512
// RUN: %sattn-opt %s --allow-unregistered-dialect -pass-pipeline='builtin.module(sattn-lower-rvv{vlen=512 lmul=4})' | filecheck %s --check-prefix=V512M4

module {
  "sattn.sparse_attention"() { precision = "bf16", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
  "sattn.sparse_attention"() { global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
  "test.other"() : () -> ()
}

// CHECK:      "sattn.rvv_call"() {precision = "bf16", window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "sliding_window", spec_rule = "cost_model", m_rows = 64 : i64, head_dim_d = 32 : i64, s_tokens = 128 : i64, vectorized, vector_strips = {vlen = 256 : i64, sew = 16 : i64, lmul = "m8", load_lmul = "m4", strip = 64 : i64, d_strips = 1 : i64, d_tail = 32 : i64}, bufferized, buffer_layout = "rowmajor", buffers = {q = 8192 : i64, k = 8192 : i64, v = 8192 : i64, out = 16384 : i64, index = 9220 : i64, index_exact = 0 : i64, total = 50180 : i64}} : () -> ()
// CHECK-NEXT: "sattn.rvv_call"() {global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "block_local_global", spec_rule = "global_tokens", blg_enabled = true, m_rows = 16 : i64, head_dim_d = 32 : i64, s_tokens = 128 : i64, vectorized, vector_strips = {{.*}}, bufferized, buffer_layout = "rowmajor", buffers = {{.*}}} : () -> ()
// CHECK-NEXT: "test.other"() : () -> ()
// V512: vector_strips = {vlen = 512 : i64, sew = 16 : i64, lmul = "m8", load_lmul = "m4", strip = 128 : i64
// V512M4: vector_strips = {vlen = 512 : i64, sew = 16 : i64, lmul = "m4", load_lmul = "m2", strip = 64 : i64
