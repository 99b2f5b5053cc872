// sattn-lower-to-rocc: every source attribute survives, plus spec, the per-spec flag and
// m_rows/head_dim_d/s_tokens (tile_M/tile_D/tile_S or 64/64/128), and the command stream the
// accelerator runs (rocc_program; host_selected for a data-dependent pattern selected on the
// host, whose jobs are planned from the run's selection; bsr's on-chip program recorded whole). Selection runs if needed.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-to-rocc)' | filecheck %s

"sattn.sparse_attention"() { global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: "sattn.rocc_call"() {global_tokens = 8 : i64, block_size = 64 : i64, tile_M = 16 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "block_local_global", spec_rule = "global_tokens", blg_enabled = true, m_rows = 16 : i64, head_dim_d = 32 : i64, s_tokens = 128 : i64, rocc_program = {layout = {{.*}}}, jobs = 1 : i64, commands = array<i64: {{.*}}>}} : () -> ()

"sattn.sparse_attention"() { precision = "i8", scale_q = 0.05 : f32, scale_k = 0.05 : f32, scale_v = 0.05 : f32, window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: "sattn.rocc_call"() {precision = "i8", scale_q = 5.000000e-02 : f32, scale_k = 5.000000e-02 : f32, scale_v = 5.000000e-02 : f32, window_size = 8 : i64, tile_D = 32 : i64, tile_S = 128 : i64, spec = "sliding_window", spec_rule = "cost_model", m_rows = 64 : i64, head_dim_d = 32 : i64, s_tokens = 128 : i64, rocc_program = {layout = {q_base = 4096 : i64, q_bytes = 4096 : i64,
// i8: PRECISION 2, and SCORE_SCALE = scale_q * scale_k / sqrt(32) as fp32 bits (the f32
// attributes), OUT_SCALE = scale_v
// CHECK-SAME: 0, 0, 2, {{.*}}, 0, 14, 971486315, 0, 15, 1028443341, {{.*}}>}} : () -> ()

"sattn.sparse_attention"() { nm_n = 2 : i64, nm_m = 4 : i64, gqa_group_size = 2 : i64, comp_block_size = 8 : i64 } : () -> ()
// CHECK: {nm_n = 2 : i64, nm_m = 4 : i64, gqa_group_size = 2 : i64, comp_block_size = 8 : i64, spec = "nm_structured", spec_rule = "nm", nm_enabled = true, m_rows = 64 : i64, head_dim_d = 64 : i64, s_tokens = 128 : i64, rocc_program = {host_selected = 1 : i64}}
"sattn.sparse_attention"() { topk_k = 4 : i64 } : () -> ()
// CHECK: spec = "topk_per_query", spec_rule = "topk", topk_enabled = true,
"sattn.sparse_attention"() { lsh_buckets = 8 : i64 } : () -> ()
// CHECK: spec = "lsh", spec_rule = "lsh", lsh_enabled = true,
"sattn.sparse_attention"() { num_landmarks = 8 : i64, landmark_iters = 1 : i64 } : () -> ()
// CHECK: spec = "landmark", spec_rule = "landmark", landmark_enabled = true,
"sattn.sparse_attention"() { keep_ratio = 0.25 : f64, dilation = 2 : i64, wrap = 1 : i64 } : () -> ()
// bsr selects its blocks on chip: its whole program is recorded, with the parameters it was
// planned for (S = 128, B = 64: 2 blocks, keep 0.25 -> 1)
// CHECK: {keep_ratio = 2.500000e-01 : f64, dilation = 2 : i64, wrap = 1 : i64, spec = "bsr", spec_rule = "cost_model", m_rows = 64 : i64, head_dim_d = 64 : i64, s_tokens = 128 : i64, rocc_program = {layout = {{.*}}, commands = array<i64: {{.*}}>, bsr = {block_size = 64 : i64, keep_blocks = 1 : i64, causal = 0 : i64, comp_block_size = 0 : i64, precision = "fp32"}}}
// CHECK-NOT: sattn.sparse_attention
