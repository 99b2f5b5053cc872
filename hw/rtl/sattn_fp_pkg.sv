// sattn_fp_pkg: synthesizable IEEE-754 binary32 arithmetic for the sattn datapath.
//
// Round-to-nearest-even everywhere. Subnormal inputs are flushed to zero and results below the
// normal range are flushed to zero (FTZ/DAZ, as most ML accelerators do); an exponent overflow
// saturates to infinity. NaN is not produced from finite inputs and is not propagated specially.
// The functions are combinational; the pipeline stages that use them add the registers.
// `verilator no_inline_task` keeps each function one C++ function in the model (faster build).
package sattn_fp_pkg;

  localparam logic [31:0] FP_ONE = 32'h3f80_0000;

  // Leading-zero count of a 32-bit word (32 when zero).
  function automatic logic [5:0] lzc32(input logic [31:0] x);
    /* verilator no_inline_task */
    logic [5:0] n;
    logic       found;
    n = 6'd32;
    found = 1'b0;
    for (int i = 31; i >= 0; i--) begin
      if (!found && x[i]) begin
        n = 6'(31 - i);
        found = 1'b1;
      end
    end
    return n;
  endfunction

  function automatic logic fp_is_zero(input logic [31:0] a);
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] x;  // only the exponent field matters (DAZ)
    /* verilator lint_on UNUSEDSIGNAL */
    x = a;
    return x[30:23] == 8'd0;
  endfunction

  // Pack sign, biased exponent (may be out of range) and a 24-bit significand with guard and
  // sticky bits, rounding to nearest even.
  function automatic logic [31:0] fp_round_pack(input logic s, input logic signed [11:0] e,
                                                input logic [23:0] m, input logic g,
                                                input logic st);
    /* verilator no_inline_task */
    logic [24:0] mr;
    logic signed [11:0] er;
    mr = {1'b0, m} + 25'((g && (st || m[0])) ? 1 : 0);
    er = e;
    if (mr[24]) begin
      mr = mr >> 1;
      er = er + 12'sd1;
    end
    if (er >= 12'sd255) return {s, 8'hff, 23'd0};
    if (er <= 12'sd0) return {s, 31'd0};
    return {s, er[7:0], mr[22:0]};
  endfunction

  // a * b
  function automatic logic [31:0] fp_mul(input logic [31:0] a, input logic [31:0] b);
    /* verilator no_inline_task */
    logic s;
    logic [47:0] p;
    logic signed [11:0] e;
    s = a[31] ^ b[31];
    if (fp_is_zero(a) || fp_is_zero(b)) return {s, 31'd0};
    if (a[30:23] == 8'hff || b[30:23] == 8'hff) return {s, 8'hff, 23'd0};
    p = {24'd0, 1'b1, a[22:0]} * {24'd0, 1'b1, b[22:0]};
    e = 12'(signed'({4'd0, a[30:23]})) + 12'(signed'({4'd0, b[30:23]})) - 12'sd127;
    if (p[47]) return fp_round_pack(s, e + 12'sd1, p[47:24], p[23], |p[22:0]);
    return fp_round_pack(s, e, p[46:23], p[22], |p[21:0]);
  endfunction

  // a + b
  function automatic logic [31:0] fp_add(input logic [31:0] a, input logic [31:0] b);
    /* verilator no_inline_task */
    logic [31:0] x, y;
    logic [26:0] mx, my, shifted;
    logic [27:0] sum;
    logic [7:0]  d;
    logic signed [11:0] e;
    logic [5:0]  lz;
    logic [31:0] w;
    if (fp_is_zero(b)) return fp_is_zero(a) ? {a[31] & b[31], 31'd0} : a;
    if (fp_is_zero(a)) return b;
    if (a[30:23] == 8'hff) return a;
    if (b[30:23] == 8'hff) return b;
    // x is the operand of larger magnitude
    if (a[30:0] >= b[30:0]) begin x = a; y = b; end else begin x = b; y = a; end
    d  = x[30:23] - y[30:23];
    mx = {1'b1, x[22:0], 3'b000};  // 24-bit significand + guard, round, sticky
    my = {1'b1, y[22:0], 3'b000};
    if (d >= 8'd27) shifted = 27'd1;  // only the sticky bit survives
    else begin
      shifted = my >> d;
      if ((my & ((27'd1 << d) - 27'd1)) != 27'd0) shifted[0] = 1'b1;
    end
    e = 12'(signed'({4'd0, x[30:23]}));
    if (x[31] == y[31]) begin
      sum = {1'b0, mx} + {1'b0, shifted};
      if (sum[27]) begin
        sum = {1'b0, sum[27:2], sum[1] | sum[0]};
        e = e + 12'sd1;
      end
    end else begin
      sum = {1'b0, mx} - {1'b0, shifted};
      if (sum == 28'd0) return 32'd0;
      w  = {5'd0, sum[26:0]};
      lz = lzc32(w) - 6'd5;  // bring the leading one to bit 26
      sum = sum << lz;
      e = e - 12'(lz);
    end
    return fp_round_pack(x[31], e, sum[26:3], sum[2], |sum[1:0]);
  endfunction

  // a - b
  function automatic logic [31:0] fp_sub(input logic [31:0] a, input logic [31:0] b);
    return fp_add(a, {~b[31], b[30:0]});
  endfunction

  // signed 32-bit integer -> binary32
  function automatic logic [31:0] fp_from_int(input logic signed [31:0] v);
    /* verilator no_inline_task */
    logic s;
    logic [31:0] mag, n;
    logic [5:0] lz;
    if (v == 32'sd0) return 32'd0;
    s = v[31];
    mag = s ? 32'(-v) : 32'(v);
    lz = lzc32(mag);
    n = mag << lz;  // leading one at bit 31
    return fp_round_pack(s, 12'sd158 - 12'(lz), n[31:8], n[7], |n[6:0]);
  endfunction

  // a > b (total order on finite values; -0 < +0 is harmless for max)
  function automatic logic fp_gt(input logic [31:0] a, input logic [31:0] b);
    logic [31:0] ka, kb;
    ka = a[31] ? ~a : {1'b1, a[30:0]};
    kb = b[31] ? ~b : {1'b1, b[30:0]};
    return ka > kb;
  endfunction

  // 1 / a for a normal positive a (the softmax denominator, >= 1). A 64-entry seed and two
  // Newton-Raphson steps y <- y (2 - m y) in Q1.31 give ~2^-30 relative error before rounding.
  function automatic logic [31:0] fp_recip(input logic [31:0] a);
    /* verilator no_inline_task */
    logic [31:0] m;         // significand in Q1.31, [1, 2)
    logic [32:0] y;         // reciprocal of m in Q1.31, (0.5, 1]
    /* verilator lint_off UNUSEDSIGNAL */
    logic [65:0] t;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [32:0] two_minus;
    logic signed [11:0] e;
    if (fp_is_zero(a)) return {a[31], 8'hff, 23'd0};
    m = {1'b1, a[22:0], 8'd0};
    y = {1'b0, sattn_isa_pkg::recip_rom(a[22:17])};
    for (int it = 0; it < 2; it++) begin
      t = {34'd0, m} * {33'd0, y};              // Q2.62
      two_minus = 33'h1_0000_0000 - 33'(t[62:31]);  // 2 - m*y in Q1.31
      t = {33'd0, y} * {33'd0, two_minus};      // Q2.62
      y = 33'(t[63:31]);
    end
    // 1/a = y * 2^(127 - ea); y in (0.5, 1]
    e = 12'sd254 - 12'(signed'({4'd0, a[30:23]}));
    if (y[31]) return fp_round_pack(a[31], e, y[31:8], y[7], |y[6:0]);
    if (a[22:0] == 23'd0) return {a[31], 8'(e), 23'd0};  // exact power of two
    return fp_round_pack(a[31], e - 12'sd1, y[30:7], y[6], |y[5:0]);
  endfunction

  // e^x for x <= 0 (the softmax's exp(s - max)). x is converted to Q7.24 fixed point, scaled by
  // log2(e) to t = n + f, and 2^f = ROM[f[23:18]] * (1 + a + a^2/2 + a^3/6) with a = ln2 * f[17:0]
  // (|a| < 0.011). Measured error: see docs/rocc.md (tests/hw asserts <= 2 ulp).
  function automatic logic [31:0] fp_exp_neg(input logic [31:0] x);
    /* verilator no_inline_task */
    logic [30:0] fx;      // |x| in Q7.24
    logic [23:0] mant;
    logic [7:0]  ex;
    logic [63:0] prod;
    logic [31:0] t;       // |x| * log2(e) in Q8.24
    logic [7:0]  ti;
    logic [23:0] tf, f;
    logic signed [11:0] n;
    logic [63:0] a, a2, a3, poly;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [63:0] m;
    /* verilator lint_on UNUSEDSIGNAL */
    ex = x[30:23];
    if (ex == 8'd0) return FP_ONE;              // x == 0 (or subnormal): e^0
    if (!x[31]) return FP_ONE;                   // x > 0 does not occur (s <= max); clamp
    if (ex >= 8'd134) return 32'd0;              // |x| >= 128: underflow
    mant = {1'b1, x[22:0]};
    if (ex >= 8'd126) fx = 31'({7'd0, mant} << (ex - 8'd126));
    else if (ex < 8'd102) fx = 31'd0;            // |x| < 2^-25: e^x rounds to 1
    else fx = 31'(({7'd0, mant} + (31'd1 << (8'd125 - ex))) >> (8'd126 - ex));
    prod = {33'd0, fx} * {32'd0, sattn_isa_pkg::LOG2E_Q31};  // Q7.55
    t = 32'((prod + 64'(1 << 30)) >> 31);
    ti = t[31:24];
    tf = t[23:0];
    // 2^-t = 2^n * 2^f with n = -ceil(t), f = ceil(t) - t in [0, 1)
    if (tf == 24'd0) begin n = -12'(signed'({4'd0, ti})); f = 24'd0; end
    else begin n = -12'(signed'({4'd0, ti})) - 12'sd1; f = 24'(25'h100_0000 - {1'b0, tf}); end
    a = (64'(f[17:0]) * 64'(sattn_isa_pkg::LN2_Q32)) >> 26;   // Q0.30
    a2 = (a * a) >> 30;
    a3 = (a2 * a) >> 30;
    poly = 64'(1 << 30) + a + (a2 >> 1) + ((a3 * 64'd715827883) >> 32);  // a3/6 via 2^32/6
    m = (64'(sattn_isa_pkg::exp2_rom(f[23:18])) * poly) >> 30;       // 2^f in Q2.30, [1,2)
    // m[30] is the leading one; round to 24 bits
    return fp_round_pack(1'b0, 12'sd127 + n, m[30:7], m[6], |m[5:0]);
  endfunction

endpackage
