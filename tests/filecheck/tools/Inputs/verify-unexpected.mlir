// Input of verify-diagnostics.mlir: diagnostics nobody expected (and one expectation on the
// wrong line).

"sattn.sparse_attention"() { window_size = -1 : i64 } : () -> ()

// -----

"sattn.sparse_attention"() { windw_size = 3 : i64 } : () -> ()

// -----
// expected-error {{must be >= 1}}
"sattn.sparse_attention"() { keep_ratio = 2.0 : f64 } : () -> ()
