// sattn-tile: default tile sizes and the tile grid (counts, remainders, active tiles).
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-tile)' | filecheck %s

// S=256, D=48, tiles M=64 S=128 D=32: 4 row tiles, 2 key tiles, 2 d tiles (last one 16 wide).
// A window of 8 touches key tile 0 from row tile 0, both key tiles from row tiles 1 and 2
// (keys 56..135, 120..199), key tile 1 from row tile 3: 6 of 8 (m, s) tiles are active.
"sattn.sparse_attention"() { window_size = 8 : i64, seq_len = 256 : i64, head_dim = 48 : i64, tile_M = 64 : i64, tile_S = 128 : i64, tile_D = 32 : i64 } : () -> ()
// CHECK: "sattn.sparse_attention"() {window_size = 8 : i64, seq_len = 256 : i64, head_dim = 48 : i64, tile_M = 64 : i64, tile_S = 128 : i64, tile_D = 32 : i64, tiled, tile_grid = {kv_heads = 1 : i64, m_tiles = 4 : i64, m_rem = 0 : i64, s_tiles = 2 : i64, s_rem = 0 : i64, d_tiles = 2 : i64, d_rem = 16 : i64, tiles = 8 : i64, active_tiles = 6 : i64, active_source = "structural"}}

// Missing tiles get the defaults tile_M=64, tile_D=64, tile_S=128; S=200 leaves remainders.
"sattn.sparse_attention"() { spec = "dense", seq_len = 200 : i64, head_dim = 64 : i64 } : () -> ()
// CHECK: {spec = "dense", seq_len = 200 : i64, head_dim = 64 : i64, tile_M = 64 : i64, tile_D = 64 : i64, tile_S = 128 : i64, tiled,
// CHECK-SAME: m_tiles = 4 : i64, m_rem = 8 : i64, s_tiles = 2 : i64, s_rem = 72 : i64, d_tiles = 1 : i64, d_rem = 0 : i64, tiles = 8 : i64, active_tiles = 8 : i64, active_source = "structural"

// Causal dense skips the tiles above the diagonal: S=256, M=64, S-tile 128: key tile 1 is
// untouched by row tiles 0 and 1, so 6 of 8 tiles are active.
"sattn.sparse_attention"() { spec = "dense", causal = 1 : i64, seq_len = 256 : i64, tile_M = 64 : i64, tile_S = 128 : i64 } : () -> ()
// CHECK: tiles = 8 : i64, active_tiles = 6 : i64, active_source = "structural"

// Data-dependent patterns: every tile may be visited (upper bound). GQA: 2 KV heads.
"sattn.sparse_attention"() { topk_k = 8 : i64, num_heads = 4 : i64, gqa_group_size = 2 : i64, seq_len = 128 : i64 } : () -> ()
// CHECK: kv_heads = 2 : i64, m_tiles = 2 : i64, m_rem = 0 : i64, s_tiles = 1 : i64, s_rem = 0 : i64, d_tiles = 1 : i64, d_rem = 0 : i64, tiles = 2 : i64, active_tiles = 2 : i64, active_source = "upper_bound"
