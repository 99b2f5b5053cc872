// Single passes combine in any order inside builtin.module(...); records made before
// lowering travel with the call, passes after lowering annotate the call.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec,sattn-materialize-indices,sattn-lower-to-rvv,sattn-vectorize{vlen=128})' | filecheck %s --check-prefix=PRE
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rvv,sattn-tile,sattn-fuse-softmax)' | filecheck %s --check-prefix=POST
// A bare comma list works as well as the builtin.module anchor.
// RUN: %sattn-opt %s -pass-pipeline='sattn-lower-rvv,sattn-tile,sattn-fuse-softmax' | filecheck %s --check-prefix=POST

"sattn.sparse_attention"() { window_size = 1 : i64, seq_len = 8 : i64, head_dim = 16 : i64 } : () -> ()
// PRE: "sattn.rvv_call"() {window_size = 1 : i64, seq_len = 8 : i64, head_dim = 16 : i64, spec = "sliding_window", spec_rule = "cost_model", materialized_indices, index_table = {kind = "stencil", offsets = array<i32: -1, 0, 1>, wrap = 0 : i64, causal = 0 : i64, rows = 8 : i64, heads = 1 : i64, nnz = 22 : i64, min_keys = 2 : i64, max_keys = 3 : i64}, m_rows = 64 : i64, head_dim_d = 64 : i64, s_tokens = 128 : i64, vectorized, vector_strips = {vlen = 128 : i64, sew = 32 : i64, lmul = "m8", load_lmul = "m8", strip = 32 : i64, d_strips = 1 : i64, d_tail = 16 : i64}} : () -> ()
// POST: "sattn.rvv_call"() {window_size = 1 : i64, seq_len = 8 : i64, head_dim = 16 : i64, spec = "sliding_window", spec_rule = "cost_model", m_rows = 64 : i64, head_dim_d = 64 : i64, s_tokens = 128 : i64, vectorized, {{.*}}, bufferized, {{.*}}, tile_M = 64 : i64, tile_D = 64 : i64, tile_S = 128 : i64, tiled, tile_grid = {{.*}}, fused_softmax, softmax_region = {stages = ["gather_kv", "qk", "online_softmax", "pv", "normalize"], rows = 8 : i64, head_dim = 16 : i64
