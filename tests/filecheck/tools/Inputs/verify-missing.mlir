// Input of verify-diagnostics.mlir: two expected diagnostics that are never produced.

// expected-error @+1 {{must be >= 1}}
"sattn.sparse_attention"() { dilation = 2 : i64 } : () -> ()

// -----

// expected-warning @+1 {{unknown attribute 'pattern'}}
"sattn.sparse_attention"() { window_size = 2 : i64 } : () -> ()
