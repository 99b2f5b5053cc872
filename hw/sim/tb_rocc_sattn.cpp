// Verilator testbench of rocc_sattn: a RoCC "core" replaying a command stream, and a memory
// model with configurable latency (cycles from request to first beat) and bandwidth (bytes per
// cycle, shared by reads and writes).
//
//   Vrocc_sattn --program P.txt --q Q.bin --k K.bin --v V.bin --out OUT.bin
//               [--lat N] [--bw B] [--max-cycles N] [--dump-selection SEL.txt]
//   Vrocc_sattn --probe
//
// P.txt is the program sattn-lower-rocc recorded (python/sattn/hw/program.py; format in
// docs/rocc.md): the operand layout and the custom instructions in order. The testbench plans
// nothing: it loads Q/K/V at the layout's addresses, issues every instruction (after START it
// waits for the job and reads STATUS; a GET_REG must read the value in its rs2, the value the
// program was planned for), then reads the counters and writes OUT.
// Q.bin/K.bin/V.bin are in the precision's element format (fp32 / bf16 little-endian, int8
// codes, or int4 codes two per byte, low nibble first); OUT.bin receives the fp32 output.
// Everything printed as a counter is read from the RTL's counter registers; the memory model's
// own byte counts are printed for cross-checking.
// --dump-selection writes, after every NSA SCORE job, the NSA_N index runs the top-n unit left in
// the run RAM (a debug read of the RTL's array, not an accelerator port): one line per job,
// "<job> <run0> <run1> ...", run = len << 16 | start.
#include "Vrocc_sattn.h"
#include "Vrocc_sattn___024root.h"
#include "verilated.h"
#include "sattn_isa.h"

#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <algorithm>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace sattn_isa;

namespace {

[[noreturn]] void fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "verilator_tb: error: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(code);
}

struct Args {
  std::string program, q, k, v, out, dump_sel;
  int lat = 20;
  double bw = 16.0;
  uint64_t max_cycles = 2000000000ull;
  bool probe = false;
};

Args parse_args(int argc, char **argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail(2, "option %s needs a value", s.c_str());
      return argv[++i];
    };
    if (s == "--program") a.program = next();
    else if (s == "--q") a.q = next();
    else if (s == "--k") a.k = next();
    else if (s == "--v") a.v = next();
    else if (s == "--out") a.out = next();
    else if (s == "--lat") a.lat = std::atoi(next().c_str());
    else if (s == "--bw") a.bw = std::atof(next().c_str());
    else if (s == "--max-cycles") a.max_cycles = std::strtoull(next().c_str(), nullptr, 10);
    else if (s == "--probe") a.probe = true;
    else if (s == "--dump-selection") a.dump_sel = next();
    else if (s.rfind("+verilator", 0) == 0) {}
    else fail(2, "unknown option '%s'", s.c_str());
  }
  if (a.lat < 1) fail(2, "--lat must be >= 1, got %d", a.lat);
  if (!(a.bw > 0)) fail(2, "--bw must be > 0 bytes/cycle, got %g", a.bw);
  if (!a.probe && (a.program.empty() || a.q.empty() || a.k.empty() || a.v.empty() || a.out.empty()))
    fail(2, "need --program, --q, --k, --v and --out (or --probe)");
  return a;
}

std::vector<uint8_t> read_file(const std::string &path, const char *what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(2, "cannot open %s file '%s'", what, path.c_str());
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

struct Command {
  uint32_t funct;
  uint64_t rs1, rs2;
  size_t line;
  std::string note;  // what a START line says about its job
};

struct Program {
  std::string path, info;
  std::map<std::string, uint64_t> layout;
  std::vector<Command> cmds;
  uint64_t at(const char *key) const {
    auto it = layout.find(key);
    if (it == layout.end()) fail(2, "%s: the layout line has no '%s'", path.c_str(), key);
    return it->second;
  }
};

uint64_t parse_u64(const std::string &s, const std::string &path, size_t n, const char *what) {
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (s.empty() || *end || errno || s[0] == '-')
    fail(2, "%s:%zu: %s is not an unsigned 64-bit number: '%s'", path.c_str(), n, what, s.c_str());
  return v;
}

Program read_program(const std::string &path) {
  Program p;
  p.path = path;
  std::ifstream f(path);
  if (!f) fail(2, "cannot open program '%s'", path.c_str());
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (n == 1) {
      if (line != PROGRAM_MAGIC) fail(2, "%s:1: not a sattn RoCC program (expected '%s')", path.c_str(), PROGRAM_MAGIC);
      continue;
    }
    std::string note;
    auto hash = line.find('#');
    if (hash != std::string::npos) {
      note = line.substr(hash + 1);
      while (!note.empty() && note[0] == ' ') note.erase(0, 1);
      line = line.substr(0, hash);
    }
    std::istringstream ss(line);
    std::string head;
    if (!(ss >> head)) continue;
    if (head == "info") {
      std::getline(ss, p.info);
      while (!p.info.empty() && p.info[0] == ' ') p.info.erase(0, 1);
    } else if (head == "layout") {
      std::string kv;
      while (ss >> kv) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) fail(2, "%s:%zu: expected key=value, got '%s'", path.c_str(), n, kv.c_str());
        p.layout[kv.substr(0, eq)] = parse_u64(kv.substr(eq + 1), path, n, kv.substr(0, eq).c_str());
      }
    } else {
      std::string a, b, extra;
      if (!(ss >> a >> b) || (ss >> extra))
        fail(2, "%s:%zu: expected 'funct rs1 rs2', got '%s'", path.c_str(), n, line.c_str());
      uint64_t funct = parse_u64(head, path, n, "funct");
      if (funct > 127) fail(2, "%s:%zu: funct %" PRIu64 " does not fit funct7", path.c_str(), n, funct);
      p.cmds.push_back({(uint32_t)funct, parse_u64(a, path, n, "rs1"), parse_u64(b, path, n, "rs2"), n, note});
    }
  }
  return p;
}

// ---------------------------------------------------------------- the simulated system
struct ReadReq {
  uint64_t addr;
  uint32_t len;
  uint64_t ready_at;
  uint32_t sent = 0;
};

struct System {
  Vrocc_sattn *top;
  std::vector<uint8_t> mem;
  std::deque<ReadReq> reads;
  uint64_t now = 0;
  int lat;
  double bw, credit = 0;
  uint64_t max_cycles;
  uint64_t served_read = 0, received_write = 0;
  static constexpr size_t MAXQ = 256;
  static constexpr uint32_t BEAT = BUS_BYTES;

  System(int lat_, double bw_, uint64_t maxc) : lat(lat_), bw(bw_), max_cycles(maxc) {
    top = new Vrocc_sattn;
    top->clk = 0;
    top->rst_n = 0;
    top->cmd_valid = 0;
    top->resp_ready = 1;
    for (int i = 0; i < 4; ++i) cycle();
    top->rst_n = 1;
  }
  ~System() { top->final(); delete top; }

  void check_range(uint64_t addr, uint64_t len, const char *what) {
    if (addr + len > mem.size() || addr + len < addr)
      fail(4, "the accelerator %s memory out of range: [0x%" PRIx64 ", +%" PRIu64 ") (memory is %zu bytes)",
           what, addr, len, mem.size());
  }

  void cycle() {
    // memory model drives this cycle's inputs
    credit = std::min(credit + bw, bw + BEAT);
    bool beat = false;
    uint32_t beat_bytes = 0;
    if (!reads.empty() && reads.front().ready_at <= now) {
      ReadReq &r = reads.front();
      beat_bytes = std::min<uint32_t>(BEAT, r.len - r.sent);
      if (credit >= beat_bytes) beat = true;
    }
    top->mem_rd_resp_valid = beat;
    uint32_t words[BEAT / 4] = {0};
    if (beat) {
      ReadReq &r = reads.front();
      check_range(r.addr + r.sent, beat_bytes, "read");
      std::memcpy(words, &mem[r.addr + r.sent], beat_bytes);
    }
    for (uint32_t w = 0; w < BEAT / 4; ++w) top->mem_rd_resp_data[w] = words[w];
    top->mem_rd_req_ready = reads.size() < MAXQ;
    top->mem_wr_ready = credit > 0;
    top->clk = 0;
    top->eval();
    // handshakes of this cycle
    bool rd_req = top->mem_rd_req_valid && top->mem_rd_req_ready;
    uint64_t rq_addr = top->mem_rd_req_addr;
    uint32_t rq_len = top->mem_rd_req_len;
    bool wr = top->mem_wr_valid && top->mem_wr_ready;
    uint64_t wr_addr = top->mem_wr_addr;
    uint32_t wr_strb = top->mem_wr_strb;
    uint32_t wr_words[BEAT / 4];
    for (uint32_t w = 0; w < BEAT / 4; ++w) wr_words[w] = top->mem_wr_data[w];
    top->clk = 1;
    top->eval();
    // model state after the edge
    if (beat) {
      ReadReq &r = reads.front();
      r.sent += beat_bytes;
      credit -= beat_bytes;
      served_read += beat_bytes;
      if (r.sent >= r.len) reads.pop_front();
    }
    if (rd_req) {
      if (rq_len == 0) fail(4, "the accelerator issued a zero-length read");
      check_range(rq_addr, rq_len, "read");
      reads.push_back({rq_addr, rq_len, now + (uint64_t)lat});
    }
    if (wr) {
      const uint8_t *bytes = reinterpret_cast<const uint8_t *>(wr_words);
      uint32_t n = 0;
      for (uint32_t b = 0; b < BEAT; ++b) {
        if (wr_strb >> b & 1) {
          check_range(wr_addr + b, 1, "write");
          mem[wr_addr + b] = bytes[b];
          ++n;
        }
      }
      received_write += n;
      credit -= n;
    }
    ++now;
    if (now > max_cycles) fail(5, "simulation exceeded --max-cycles=%" PRIu64 " (hang?)", max_cycles);
  }

  // one RoCC instruction; returns rd for xd instructions
  uint64_t rocc(uint32_t funct, uint64_t rs1, uint64_t rs2, bool xd) {
    top->cmd_valid = 1;
    top->cmd_funct = funct;
    top->cmd_rs1 = rs1;
    top->cmd_rs2 = rs2;
    top->cmd_xd = xd;
    top->cmd_rd = xd ? 10 : 0;
    for (;;) {
      top->clk = 0;
      top->eval();
      bool fire = top->cmd_ready;
      cycle();
      if (fire) break;
    }
    top->cmd_valid = 0;
    if (!xd) return 0;
    for (;;) {
      top->clk = 0;
      top->eval();
      if (top->resp_valid) {
        uint64_t v = top->resp_data;
        cycle();
        return v;
      }
      cycle();
    }
  }
  void set(uint32_t reg, uint64_t v) { rocc(F_SET_REG, reg, v, false); }
  uint64_t get(uint32_t reg) { return rocc(F_GET_REG, reg, 0, true); }
};

void print_hw(System &sys) {
  uint64_t ver = sys.get(R_VERSION), caps = sys.get(R_CAPS);
  auto b = [&](uint32_t m) { return (caps & m) ? 1 : 0; };
  std::printf("rocc_hw: ver=0x%04" PRIx64 " caps=0x%04" PRIx64 " [bsr=%d sw=%d gqa=%d comp=%d] "
              "fp32=%d bf16=%d i8=%d i4=%d host_select=%d landmark=%d causal=%d nsa=%d lanes=%" PRIu64
              " dmax=%" PRIu64 " kv_rows=%" PRIu64 " run_depth=%" PRIu64 " rowptr_depth=%" PRIu64 "\n",
              ver, caps, b(CAP_BSR), b(CAP_SW), b(CAP_GQA), b(CAP_COMP), b(CAP_FP32), b(CAP_BF16),
              b(CAP_I8), b(CAP_I4), b(CAP_HOST_SELECT), b(CAP_LANDMARK), b(CAP_CAUSAL), b(CAP_NSA),
              sys.get(R_LANES), sys.get(R_DMAX), sys.get(R_KV_ROWS), sys.get(R_RUN_DEPTH),
              sys.get(R_ROWPTR_DEPTH));
}

}  // namespace

int main(int argc, char **argv) {
  Verilated::commandArgs(argc, argv);
  Args args = parse_args(argc, argv);
  System sys(args.lat, args.bw, args.max_cycles);

  if (args.probe) {
    print_hw(sys);
    return 0;
  }

  const Program prog = read_program(args.program);
  const uint64_t q_base = prog.at("q_base"), q_bytes = prog.at("q_bytes");
  const uint64_t k_base = prog.at("k_base"), v_base = prog.at("v_base"), kv_bytes = prog.at("kv_bytes");
  const uint64_t o_base = prog.at("o_base"), o_bytes = prog.at("o_bytes");
  // V's size: its own field when V rows are Dv != D wide, else K's
  const uint64_t v_bytes = prog.layout.count("v_bytes") ? prog.at("v_bytes") : kv_bytes;
  const uint64_t limit = uint64_t(1) << 36;  // 64 GiB: beyond any program the driver plans
  for (uint64_t x : {q_base, q_bytes, k_base, v_base, kv_bytes, v_bytes, o_base, o_bytes})
    if (x > limit) fail(2, "%s: the layout addresses more than 64 GiB", args.program.c_str());

  // memory image: Q, K, V and OUT where the layout puts them
  std::vector<uint8_t> qb = read_file(args.q, "Q"), kb = read_file(args.k, "K"), vb = read_file(args.v, "V");
  if (qb.size() != q_bytes) fail(2, "Q file '%s' has %zu bytes, the layout says %" PRIu64, args.q.c_str(), qb.size(), q_bytes);
  if (kb.size() != kv_bytes) fail(2, "K file '%s' has %zu bytes, the layout says %" PRIu64, args.k.c_str(), kb.size(), kv_bytes);
  if (vb.size() != v_bytes) fail(2, "V file '%s' has %zu bytes, the layout says %" PRIu64, args.v.c_str(), vb.size(), v_bytes);
  sys.mem.assign(std::max({q_base + q_bytes, k_base + kv_bytes, v_base + v_bytes, o_base + o_bytes}) + 64, 0);
  std::memcpy(&sys.mem[q_base], qb.data(), qb.size());
  std::memcpy(&sys.mem[k_base], kb.data(), kb.size());
  std::memcpy(&sys.mem[v_base], vb.data(), vb.size());

  // the replay
  std::map<uint64_t, uint64_t> written;  // descriptor registers as the program set them
  long long jobs = 0;
  FILE *sel_out = nullptr;
  if (!args.dump_sel.empty() && !(sel_out = std::fopen(args.dump_sel.c_str(), "w")))
    fail(2, "cannot write selection dump '%s'", args.dump_sel.c_str());
  for (const Command &c : prog.cmds) {
    if (c.funct == F_GET_REG) {
      uint64_t got = sys.get(c.rs1);
      if (got != c.rs2)
        fail(2, "%s:%zu: register 0x%02" PRIx64 " reads %" PRIu64 ", the program was planned for %" PRIu64
             " (lower it again for this hardware)", args.program.c_str(), c.line, c.rs1, got, c.rs2);
    } else if (c.funct == F_STATUS) {
      sys.rocc(F_STATUS, c.rs1, c.rs2, true);
    } else if (c.funct == F_START) {
      sys.rocc(F_START, c.rs1, c.rs2, false);
      while (sys.top->busy) sys.cycle();
      uint64_t status = sys.rocc(F_STATUS, 0, 0, true);
      uint32_t err = (status >> 8) & 0xff;
      if (err != E_NONE)
        fail(3, "hardware refused job %lld (%s, %s:%zu): error %s: %s [status=0x%04" PRIx64 "]", jobs,
             c.note.empty() ? "no note" : c.note.c_str(), args.program.c_str(), c.line, error_name(err),
             error_doc(err), status);
      if (sel_out && (written[R_NSA_CTRL] & 1) && (!(written[R_NSA_CTRL] & 4) || (written[R_NSA_CTRL] & 16))) {
        std::fprintf(sel_out, "%lld", jobs);
        for (uint64_t i = 0; i < written[R_NSA_N] && i < RUN_DEPTH; ++i)
          std::fprintf(sel_out, " %u", (unsigned)sys.top->rootp->rocc_sattn__DOT__u_gather__DOT__runs[i]);
        std::fprintf(sel_out, "\n");
      }
      ++jobs;
    } else {
      if (c.funct == F_SET_REG) written[c.rs1] = c.rs2;
      sys.rocc(c.funct, c.rs1, c.rs2, false);
    }
  }
  if (sel_out) std::fclose(sel_out);
  const long long D = (long long)written[R_HEAD_DIM];
  const long long Dv = written[R_HEAD_DIM_V] ? (long long)written[R_HEAD_DIM_V] : D;  // 0: Dv = D

  // counters (read from the RTL), then the output tensor
  uint64_t total = sys.get(R_CYC_TOTAL);
  const uint64_t busy = sys.get(R_CYC_BUSY), mac = sys.get(R_CYC_MAC), lanes_c = sys.get(R_LANE_CYCLES);
  const uint64_t gather = sys.get(R_CYC_GATHER), gather_act = sys.get(R_CYC_GATHER_ACTIVE);
  const uint64_t dq = sys.get(R_DMA_Q), dk = sys.get(R_DMA_K), dout = sys.get(R_DMA_OUT);
  const uint64_t pairs = sys.get(R_PAIRS), rows = sys.get(R_ROWS_DONE), stall = sys.get(R_CYC_STALL_KV);
  const uint64_t reqs = sys.get(R_DMA_REQS), lanes = sys.get(R_LANES), sel = sys.get(R_CYC_SELECT);
  {
    std::ofstream f(args.out, std::ios::binary);
    if (!f) fail(2, "cannot write output file '%s'", args.out.c_str());
    f.write(reinterpret_cast<const char *>(&sys.mem[o_base]), o_bytes);
    if (!f) fail(2, "cannot write output file '%s'", args.out.c_str());
  }
  const double ideal = (double)pairs * (D + Dv) / lanes;  // q.k (D) and p.v (Dv) MACs a pair
  // existing scripts read the integer after "completed in": it is the RTL's total_cycles
  std::printf("verilator_tb: completed in %" PRIu64 " cycles %s jobs=%lld total_cycles=%" PRIu64
              " mem_read_bytes=%" PRIu64 " mem_write_bytes=%" PRIu64 " lat=%d bw=%g\n",
              total, prog.info.c_str(), jobs, total, sys.served_read, sys.received_write, args.lat, args.bw);
  std::printf("rocc_counters(rtl): gather_cycles=%" PRIu64 " mac_cycles=%" PRIu64 " dma_bytes=%" PRIu64
              " dma_q=%" PRIu64 " dma_k=%" PRIu64 " dma_out=%" PRIu64 " total_cycles=%" PRIu64
              " busy_cycles=%" PRIu64 " lane_cycles=%" PRIu64 " pairs=%" PRIu64 " rows=%" PRIu64
              " stall_kv_cycles=%" PRIu64 " gather_active_cycles=%" PRIu64 " dma_reqs=%" PRIu64
              " select_cycles=%" PRIu64 "\n",
              gather, mac, dq + dk, dq, dk, dout, total, busy, lanes_c, pairs, rows, stall, gather_act, reqs, sel);
  print_hw(sys);
  std::printf("rocc_util: util_mac=%.4f util_gather=%.4f lanes=%" PRIu64 " ideal_mac_cycles=%.0f "
              "ideal_ratio=%.4f\n",
              total ? (double)lanes_c / ((double)lanes * total) : 0.0,
              total ? (double)gather_act / total : 0.0, lanes, ideal, ideal > 0 ? total / ideal : 0.0);
  return 0;
}
