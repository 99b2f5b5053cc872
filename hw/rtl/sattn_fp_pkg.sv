// sattn_fp_pkg: synthesizable IEEE-754 binary32 arithmetic for the sattn datapath.
//
// Round-to-nearest-even everywhere. Subnormal inputs are flushed to zero and results below the
// normal range are flushed to zero (FTZ/DAZ, as most ML accelerators do); an exponent overflow
// saturates to infinity. NaN is not produced from finite inputs and is not propagated specially.
// The functions are combinational; the pipeline stages that use them add the registers.
// `verilator no_inline_task` keeps a function one C++ function in the model (faster build); Verilator
// 5.006 cannot do that for return values wider than 64 bits, so the wide stage functions inline.
package sattn_fp_pkg;

  localparam logic [31:0] FP_ONE = 32'h3f80_0000;

  // Pipeline stages of the units (a register after each; hw/synth/sattn_fpu.sv times them):
  // multiply fmul_s1 | fmul_s2; add fadd_s1 | fadd_s23; int -> fp fint_s1 | fint_s2; exp and
  // reciprocal eight stages each (below).

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

  // ---------------- staged units ----------------
  // Every unit is a chain of stage functions: a pipelined datapath registers the value between
  // two stages, the combinational function (fp_mul, fp_add, ...) is the same chain without
  // registers, so pipelined results are bit-identical to it.

  // a * b: s1 forms the 48-bit significand product, s2 normalises and rounds.
  typedef struct packed {
    logic               s;
    logic [1:0]         cls;  // 0 finite, 1 zero (or subnormal) operand, 2 infinite operand
    logic signed [11:0] e;
    logic [47:0]        p;
  } fmul1_t;

  function automatic fmul1_t fmul_s1(input logic [31:0] a, input logic [31:0] b);
    /* verilator no_inline_task */
    fmul1_t r;
    r.s = a[31] ^ b[31];
    r.cls = (fp_is_zero(a) || fp_is_zero(b)) ? 2'd1
          : (a[30:23] == 8'hff || b[30:23] == 8'hff) ? 2'd2 : 2'd0;
    r.p = {24'd0, 1'b1, a[22:0]} * {24'd0, 1'b1, b[22:0]};
    r.e = 12'(signed'({4'd0, a[30:23]})) + 12'(signed'({4'd0, b[30:23]})) - 12'sd127;
    return r;
  endfunction

  function automatic logic [31:0] fmul_s2(input fmul1_t m);
    /* verilator no_inline_task */
    if (m.cls == 2'd1) return {m.s, 31'd0};
    if (m.cls == 2'd2) return {m.s, 8'hff, 23'd0};
    if (m.p[47]) return fp_round_pack(m.s, m.e + 12'sd1, m.p[47:24], m.p[23], |m.p[22:0]);
    return fp_round_pack(m.s, m.e, m.p[46:23], m.p[22], |m.p[21:0]);
  endfunction

  function automatic logic [31:0] fp_mul(input logic [31:0] a, input logic [31:0] b);
    return fmul_s2(fmul_s1(a, b));
  endfunction

  // a + b: s1 orders the operands by magnitude and aligns the smaller one, s2 adds (and finds
  // the leading zeros of a difference), s3 normalises and rounds.
  typedef struct packed {
    logic        done;  // the result is res (a zero or infinite operand)
    logic [31:0] res;
    logic        s;     // sign of the larger-magnitude operand x (the result's)
    logic        sub;   // signs differ
    logic [7:0]  ex;
    logic [26:0] mx;    // x's 24-bit significand + guard, round, sticky
    logic [26:0] my;    // y's, shifted right by ex - ey, shifted-out bits in the sticky bit
  } fadd1_t;

  typedef struct packed {
    logic               done;
    logic [31:0]        res;
    logic               s;
    logic               sub;
    logic signed [11:0] e;
    logic [27:0]        sum;
    logic [5:0]         lz;  // left shift that brings a difference's leading one to bit 26
  } fadd2_t;

  function automatic fadd1_t fadd_s1(input logic [31:0] a, input logic [31:0] b);
    fadd1_t r;
    logic [31:0] x, y;
    logic [26:0] my;
    logic [7:0]  d;
    r = '0;
    if (fp_is_zero(b)) begin
      r.done = 1'b1;
      r.res = fp_is_zero(a) ? {a[31] & b[31], 31'd0} : a;
    end else if (fp_is_zero(a)) begin
      r.done = 1'b1;
      r.res = b;
    end else if (a[30:23] == 8'hff) begin
      r.done = 1'b1;
      r.res = a;
    end else if (b[30:23] == 8'hff) begin
      r.done = 1'b1;
      r.res = b;
    end else begin
      if (a[30:0] >= b[30:0]) begin x = a; y = b; end else begin x = b; y = a; end
      d = x[30:23] - y[30:23];
      r.mx = {1'b1, x[22:0], 3'b000};
      my = {1'b1, y[22:0], 3'b000};
      if (d >= 8'd27) r.my = 27'd1;  // only the sticky bit survives
      else begin
        r.my = my >> d;
        if ((my & ((27'd1 << d) - 27'd1)) != 27'd0) r.my[0] = 1'b1;
      end
      r.s = x[31];
      r.sub = x[31] != y[31];
      r.ex = x[30:23];
    end
    return r;
  endfunction

  function automatic fadd2_t fadd_s2(input fadd1_t p);
    fadd2_t r;
    logic [27:0] sum;
    logic signed [11:0] e;
    r.done = p.done;
    r.res = p.res;
    r.s = p.s;
    r.sub = p.sub;
    r.lz = '0;
    e = 12'(signed'({4'd0, p.ex}));
    if (!p.sub) begin
      sum = {1'b0, p.mx} + {1'b0, p.my};
      if (sum[27]) begin
        sum = {1'b0, sum[27:2], sum[1] | sum[0]};
        e = e + 12'sd1;
      end
    end else begin
      sum = {1'b0, p.mx} - {1'b0, p.my};
      if (sum == 28'd0 && !p.done) begin
        r.done = 1'b1;
        r.res = 32'd0;
      end
      r.lz = lzc32({5'd0, sum[26:0]}) - 6'd5;
    end
    r.sum = sum;
    r.e = e;
    return r;
  endfunction

  function automatic logic [31:0] fadd_s3(input fadd2_t p);
    /* verilator no_inline_task */
    logic [27:0] sum;
    logic signed [11:0] e;
    if (p.done) return p.res;
    sum = p.sum;
    e = p.e;
    if (p.sub) begin
      sum = sum << p.lz;
      e = e - 12'(p.lz);
    end
    return fp_round_pack(p.s, e, sum[26:3], sum[2], |sum[1:0]);
  endfunction

  // the adder's second pipeline stage: add, normalise, round
  function automatic logic [31:0] fadd_s23(input fadd1_t p);
    return fadd_s3(fadd_s2(p));
  endfunction

  // fadd_s23 for operands of one sign (p.sub = 0; the core's l lane, whose l * alpha and p are
  // never negative): a sum needs no leading-zero count or left shift, only the carry's one-bit
  // right shift, so the stage is an add and a round. The result is fadd_s23's for every such
  // pair (the same steps, without the difference path); a pair of opposite signs would get the
  // sum of magnitudes, so only same-sign operands may use it.
  /* verilator lint_off UNUSEDSIGNAL */  // p.sub: 0 by the caller's construction
  function automatic logic [31:0] fadd_same_sign_s23(input fadd1_t p);
    /* verilator no_inline_task */
    logic [27:0] sum;
    logic signed [11:0] e;
    if (p.done) return p.res;
    e = 12'(signed'({4'd0, p.ex}));
    sum = {1'b0, p.mx} + {1'b0, p.my};
    if (sum[27]) begin
      sum = {1'b0, sum[27:2], sum[1] | sum[0]};
      e = e + 12'sd1;
    end
    return fp_round_pack(p.s, e, sum[26:3], sum[2], |sum[1:0]);
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  function automatic logic [31:0] fp_add(input logic [31:0] a, input logic [31:0] b);
    return fadd_s23(fadd_s1(a, b));
  endfunction

  // a - b
  function automatic logic [31:0] fp_sub(input logic [31:0] a, input logic [31:0] b);
    return fp_add(a, {~b[31], b[30:0]});
  endfunction

  // signed 32-bit integer -> binary32: s1 takes the magnitude and counts its leading zeros,
  // s2 shifts and rounds.
  typedef struct packed {
    logic        zero;
    logic        s;
    logic [31:0] mag;
    logic [5:0]  lz;
  } fint1_t;

  function automatic fint1_t fint_s1(input logic signed [31:0] v);
    /* verilator no_inline_task */
    fint1_t r;
    r.zero = v == 32'sd0;
    r.s = v[31];
    r.mag = r.s ? 32'(-v) : 32'(v);
    r.lz = lzc32(r.mag);
    return r;
  endfunction

  function automatic logic [31:0] fint_s2(input fint1_t p);
    /* verilator no_inline_task */
    logic [31:0] n;
    if (p.zero) return 32'd0;
    n = p.mag << p.lz;  // leading one at bit 31
    return fp_round_pack(p.s, 12'sd158 - 12'(p.lz), n[31:8], n[7], |n[6:0]);
  endfunction

  function automatic logic [31:0] fp_from_int(input logic signed [31:0] v);
    return fint_s2(fint_s1(v));
  endfunction

  // An 8-bit integer code -> binary32 (exact; equals fp_from_int of the sign-extended code):
  // the P.V lanes' conversion of i8/i4 V codes.
  function automatic logic [31:0] fp_from_int8(input logic signed [7:0] v);
    /* verilator no_inline_task */
    logic [7:0] mag;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [7:0] n;  // n[7] is the leading one
    /* verilator lint_on UNUSEDSIGNAL */
    logic [2:0] top;
    if (v == 8'sd0) return 32'd0;
    mag = v[7] ? 8'(-v) : 8'(v);
    top = 3'd0;
    for (int i = 0; i < 8; i++) if (mag[i]) top = 3'(i);  // position of the leading one
    n = mag << (3'd7 - top);
    return {v[7], 8'(8'd127 + 8'(top)), n[6:0], 16'd0};
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
  // Stages: seed; then per step m*y, 2 - m*y, y*(2 - m*y); then rounding (eight stages).
  typedef struct packed {
    logic        done;  // a zero operand: the result is res
    logic [31:0] res;
    logic        s;
    logic [7:0]  ea;
    logic        pow2;  // a is a power of two (exact reciprocal)
    logic [31:0] m;     // significand in Q1.31, [1, 2)
    logic [32:0] y;     // reciprocal of m in Q1.31, (0.5, 1]
    logic [65:0] t;     // Q2.62 product
  } frec_t;

  function automatic frec_t frec_seed(input logic [31:0] a);
    frec_t r;
    r = '0;
    r.done = fp_is_zero(a);
    r.res = {a[31], 8'hff, 23'd0};
    r.s = a[31];
    r.ea = a[30:23];
    r.pow2 = a[22:0] == 23'd0;
    r.m = {1'b1, a[22:0], 8'd0};
    r.y = {1'b0, sattn_isa_pkg::recip_rom(a[22:17])};
    return r;
  endfunction

  function automatic frec_t frec_my(input frec_t p);  // t = m * y
    frec_t r;
    r = p;
    r.t = {34'd0, p.m} * {33'd0, p.y};
    return r;
  endfunction

  function automatic frec_t frec_two_minus(input frec_t p);  // t = 2 - m*y (Q1.31)
    frec_t r;
    logic [32:0] two_minus;
    r = p;
    two_minus = 33'h1_0000_0000 - 33'(p.t[62:31]);
    r.t = 66'(two_minus);
    return r;
  endfunction

  function automatic frec_t frec_step(input frec_t p);  // y = y * (2 - m*y)
    frec_t r;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [65:0] t;
    /* verilator lint_on UNUSEDSIGNAL */
    r = p;
    t = {33'd0, p.y} * {33'd0, p.t[32:0]};
    r.y = 33'(t[63:31]);
    return r;
  endfunction

  /* verilator lint_off UNUSEDSIGNAL */
  function automatic logic [31:0] frec_pack(input frec_t p);
    /* verilator no_inline_task */
    logic signed [11:0] e;
    if (p.done) return p.res;
    // 1/a = y * 2^(127 - ea); y in (0.5, 1]
    e = 12'sd254 - 12'(signed'({4'd0, p.ea}));
    if (p.y[31]) return fp_round_pack(p.s, e, p.y[31:8], p.y[7], |p.y[6:0]);
    if (p.pow2) return {p.s, 8'(e), 23'd0};  // exact power of two
    return fp_round_pack(p.s, e - 12'sd1, p.y[30:7], p.y[6], |p.y[5:0]);
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  function automatic logic [31:0] fp_recip(input logic [31:0] a);
    return frec_pack(frec_step(frec_two_minus(frec_my(
           frec_step(frec_two_minus(frec_my(frec_seed(a))))))));
  endfunction

  // e^x for x <= 0 (the softmax's exp(s - max)). x is converted to Q7.24 fixed point, scaled by
  // log2(e) to t = n + f, and 2^f = ROM[f[23:18]] * (1 + a + a^2/2 + a^3/6) with a = ln2 * f[17:0]
  // (|a| < 0.011). Measured error: see docs/rocc.md (tests/hw asserts <= 2 ulp).
  // Stages: fixed point; * log2(e); split into n and f, a and the ROM; a^2; a^3; the cubic;
  // ROM * cubic; rounding (eight stages).
  typedef struct packed {
    logic               done;  // special argument: the result is res
    logic [31:0]        res;
    logic signed [11:0] n;
    logic [30:0]        fx;    // |x| in Q7.24
    logic [63:0]        prod;  // |x| log2(e) in Q7.55
    logic [31:0]        rom;   // 2^(f[23:18]/64) in Q2.30
    logic [63:0]        a;     // ln2 * f[17:0] in Q0.30
    logic [63:0]        a2;
    logic [63:0]        a3;
    logic [63:0]        poly;  // 1 + a + a^2/2 + a^3/6 in Q2.30
    logic [63:0]        m;     // 2^f in Q2.30
  } fexp_t;

  function automatic fexp_t fexp_fixed(input logic [31:0] x);
    fexp_t r;
    logic [23:0] mant;
    logic [7:0]  ex;
    r = '0;
    ex = x[30:23];
    mant = {1'b1, x[22:0]};
    if (ex == 8'd0 || !x[31]) begin  // x == 0 (or subnormal): e^0; x > 0 does not occur: clamp
      r.done = 1'b1;
      r.res = FP_ONE;
    end else if (ex >= 8'd134) begin  // |x| >= 128: underflow
      r.done = 1'b1;
      r.res = 32'd0;
    end
    if (ex >= 8'd126) r.fx = 31'({7'd0, mant} << (ex - 8'd126));
    else if (ex < 8'd102) r.fx = 31'd0;  // |x| < 2^-25: e^x rounds to 1
    else r.fx = 31'(({7'd0, mant} + (31'd1 << (8'd125 - ex))) >> (8'd126 - ex));
    return r;
  endfunction

  function automatic fexp_t fexp_log2e(input fexp_t p);
    fexp_t r;
    r = p;
    r.prod = {33'd0, p.fx} * {32'd0, sattn_isa_pkg::LOG2E_Q31};
    return r;
  endfunction

  function automatic fexp_t fexp_split(input fexp_t p);
    fexp_t r;
    logic [31:0] t;  // |x| log2(e) in Q8.24
    logic [7:0]  ti;
    logic [23:0] tf, f;
    r = p;
    t = 32'((p.prod + 64'(1 << 30)) >> 31);
    ti = t[31:24];
    tf = t[23:0];
    // 2^-t = 2^n * 2^f with n = -ceil(t), f = ceil(t) - t in [0, 1)
    if (tf == 24'd0) begin r.n = -12'(signed'({4'd0, ti})); f = 24'd0; end
    else begin r.n = -12'(signed'({4'd0, ti})) - 12'sd1; f = 24'(25'h100_0000 - {1'b0, tf}); end
    r.a = (64'(f[17:0]) * 64'(sattn_isa_pkg::LN2_Q32)) >> 26;
    r.rom = sattn_isa_pkg::exp2_rom(f[23:18]);
    return r;
  endfunction

  function automatic fexp_t fexp_sq(input fexp_t p);
    fexp_t r;
    r = p;
    r.a2 = (p.a * p.a) >> 30;
    return r;
  endfunction

  function automatic fexp_t fexp_cube(input fexp_t p);
    fexp_t r;
    r = p;
    r.a3 = (p.a2 * p.a) >> 30;
    return r;
  endfunction

  function automatic fexp_t fexp_poly(input fexp_t p);
    fexp_t r;
    r = p;
    r.poly = 64'(1 << 30) + p.a + (p.a2 >> 1) + ((p.a3 * 64'd715827883) >> 32);  // a3/6: 2^32/6
    return r;
  endfunction

  function automatic fexp_t fexp_scale(input fexp_t p);
    fexp_t r;
    r = p;
    r.m = (64'(p.rom) * p.poly) >> 30;
    return r;
  endfunction

  /* verilator lint_off UNUSEDSIGNAL */
  function automatic logic [31:0] fexp_pack(input fexp_t p);
    /* verilator no_inline_task */
    if (p.done) return p.res;
    // m[30] is the leading one; round to 24 bits
    return fp_round_pack(1'b0, 12'sd127 + p.n, p.m[30:7], p.m[6], |p.m[5:0]);
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  function automatic logic [31:0] fp_exp_neg(input logic [31:0] x);
    return fexp_pack(fexp_scale(fexp_poly(fexp_cube(fexp_sq(fexp_split(fexp_log2e(
           fexp_fixed(x))))))));
  endfunction

endpackage
