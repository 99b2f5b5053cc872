module {
  "sattn.sparse_attention"() { spec = "topk_per_query", topk_k = 16 : i64, causal = 1 : i64, seq_len = 128 : i64, head_dim = 16 : i64, num_heads = 4 : i64, gqa_group_size = 2 : i64 } : () -> ()
}
