#include "cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "answer/checkpoint.hpp"
#include "cli/toml_config.hpp"
#include "io/atomic_file.hpp"
#include "io/generate.hpp"
#include "kernels/exact.hpp"
#include "methods/solve_method.hpp"
#include "parallel/log.hpp"
#include "parallel/scalapack.hpp"
#include "planner/calibrate.hpp"
#include "runtime/progress.hpp"
#include "solve/solver.hpp"

namespace hipi::cli {

namespace {

// CLI11's PositiveNumber and NonNegativeNumber print their range up to DBL_MAX (309
// digits); these say the same in words.
bool number_at_least(const std::string& text, double low, bool strict) {
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  return end != text.c_str() && *end == '\0' && (strict ? x > low : x >= low);
}
const CLI::Validator kPositive(
    [](std::string& v) { return number_at_least(v, 0, true) ? std::string() : "must be a positive number, got " + v; },
    "POSITIVE");
const CLI::Validator kNonNegative(
    [](std::string& v) { return number_at_least(v, 0, false) ? std::string() : "must be zero or more, got " + v; },
    "NONNEGATIVE");

constexpr const char* kDescription =
    "hipi: find every pair of vectors (a_i, b_j) of two HDF5 datasets whose inner product\n"
    "passes a threshold, exactly, on one machine or many MPI ranks.\n"
    "Run as: mpirun -np P hipi <command> ...   or   srun hipi <command> ...";

struct GenerateArgs {
  GenerateOptions options;
  std::optional<double> rho, tau;
  std::string type = "binary";
};

struct SolveArgs {
  SolveOptions options;
  std::string a, b;
  std::optional<double> rho, tau;
  std::optional<std::int64_t> group_size;
  std::optional<double> detect_threshold;
  std::optional<std::int64_t> expect_k;
  std::optional<std::string> top_k;  // parsed here: one message for 0, -1 and 1.5 alike
  bool binary = false;
  std::string method = "auto";  // a registered method's name (solve_method.hpp)
  double stall_timeout = 0;
};

void add_generate(CLI::App& app, GenerateArgs& g) {
  auto* cmd = app.add_subcommand("generate", "Write a random instance with planted heavy pairs");
  cmd->footer(
      "Writes /A (and /B unless --self-join): int8 +-1 (binary) or float32 (real), and the\n"
      "planted pairs as /truth_pairs int64 [K,2] and /truth_ip float64 [K]. The file is the\n"
      "same for a given seed whatever the number of ranks.");
  auto& o = g.options;
  cmd->add_option("--out", o.out, "Output HDF5 file")->required();
  cmd->add_option("--n", o.n, "Rows of A")->required()->check(kPositive);
  cmd->add_option("--n-b", o.n_b, "Rows of B (default: --n)")->check(kPositive);
  cmd->add_option("--d", o.d, "Dimension of every vector")->required()->check(kPositive);
  cmd->add_option("--k", o.k, "Number of planted heavy pairs")->capture_default_str()->check(kNonNegative);
  auto* rho = cmd->add_option("--rho", g.rho, "Binary: planted pairs have <a,b> >= rho*d (default 0.5)");
  auto* tau = cmd->add_option("--tau", g.tau, "Real: planted pairs have <a,b> >= tau (required for --type real)");
  rho->excludes(tau);
  cmd->add_option("--type", g.type, "Element type")->capture_default_str()->check(CLI::IsMember({"binary", "real"}));
  cmd->add_flag("--self-join", o.self_join, "Write /A only, with the planted pairs inside it");
  cmd->add_flag("--packed", o.packed,
                "Binary: write rows as packed bits, uint8 [n, ceil(d/8)] = numpy.packbits(A < 0, axis=1), with "
                "an attribute bits = d (8x smaller than int8)");
  cmd->add_option("--margin", o.margin, "Real: planted <a,b> about tau + margin noise sd (0: just above tau)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Random seed")->capture_default_str();
}

struct CalibrateArgs {
  std::int64_t d = 4096;
  std::string grid;
  std::string out;
};

// The problem and the method: inputs, threshold, output, which method.
void add_problem_options(CLI::App* cmd, SolveArgs& s, bool plan) {
  auto& o = s.options;
  cmd->add_option("--a", s.a, "Dataset A as FILE.h5[:/DATASET] (default dataset /A)")->required();
  cmd->add_option("--b", s.b, "Dataset B as FILE.h5[:/DATASET] (default /B); omit for a self-join of A");
  auto* rho = cmd->add_option("--rho", s.rho, "Binary mode threshold: <a,b> >= rho*d, rho in (0, 1]");
  auto* tau = cmd->add_option("--tau", s.tau, "Real mode threshold: <a,b> >= tau");
  rho->excludes(tau);
  if (!plan) cmd->add_option("--out", o.out, "Output HDF5 file (written atomically)")->required();
  std::vector<std::string> methods{"auto"};
  std::string method_help;
  for (const SolveMethod* m : solve_methods()) {
    methods.push_back(m->name());
    method_help += m->name() + ": " + m->summary() + "; ";
  }
  cmd->add_option(
         "--method", s.method,
         method_help + "auto: the planner measures the data and this machine and runs the fastest (see hipi plan)")
      ->capture_default_str()
      ->check(CLI::IsMember(methods));
  cmd->add_option("--seed", o.seed, "Random seed (recorded in the output; brute force uses none)")
      ->capture_default_str();
  cmd->add_option("--top-k", s.top_k,
                  "For each row of A, its K best rows of B (by inner product, cosine with --cosine, |.| with --abs; "
                  "j != i in a self-join; ties to the smaller j), with --rho/--tau only those passing; adds "
                  "/knn_indices and /knn_scores [rows of A, K] (see docs/cli.md)");
  cmd->add_flag("--binary", s.binary,
                "With --top-k and no --rho: the rows are +-1 (int8), ranked by Hamming distance with the popcount "
                "kernels (packed bits are binary anyway)");
  cmd->add_flag("--abs", o.problem.abs, "Heavy when |<a,b>| passes the threshold");
  cmd->add_flag("--cosine", o.problem.cosine,
                "Real mode: heavy when <a,b> / (||a|| ||b||) >= tau (norms and the decision in float64 on the stored "
                "values); /inner_products then hold cosines");
  cmd->add_flag("--skip-zero-rows", o.problem.skip_zero_rows,
                "With --cosine: rows of zeros pair with nothing (counted in the log) instead of an input error");
  cmd->add_option("--report", o.report, "Write a JSON report of per-stage timings");
  if (!plan)
    cmd->add_flag("--components", o.components,
                  "Self-join: add /components int64 [n] to the output, each row's smallest row index in its "
                  "connected component of the heavy-pair graph (what a dedup keeps: one row per component)");
}

// How the run goes: auto's target and profile, memory, checkpoints, the watchdog.
void add_run_options(CLI::App* cmd, SolveArgs& s, bool plan) {
  auto& o = s.options;
  cmd->add_option("--delta", o.delta, "auto: allowed probability of missing a given heavy pair")->capture_default_str();
  cmd->add_option("--memory-mib", o.memory_mib,
                  "Memory budget per rank in MiB (default: 80% of the node's memory over the ranks on the node); a "
                  "job past it is refused with the sizes")
      ->check(kPositive);
  cmd->add_option("--profile", o.profile,
                  "auto: machine profile from hipi calibrate (default: the one cached for this machine and launch "
                  "layout, with the rates it lacks measured now, ~0.3 s, and cached)");
  cmd->add_flag("!--no-profile-cache", o.profile_cache,
                "auto: neither read nor write the profile cache ($HIPI_CACHE_DIR, $XDG_CACHE_HOME/hipi or "
                "~/.cache/hipi)");
  cmd->add_option("--expect-k", s.expect_k,
                  "The number of heavy pairs, if known: the sketch stops once it has them all");
  if (!plan) {
    cmd->add_option("--checkpoint-interval", o.checkpoint_interval,
                    "Brute force: save progress in OUT.hipi-checkpoint at least this often (seconds; 0: never). "
                    "SIGTERM, SIGUSR1 or SIGINT then save it and stop with exit status 3; the same command resumes")
        ->capture_default_str()
        ->check(kNonNegative);
    cmd->add_option("--stall-timeout", s.stall_timeout,
                    "End the job (exit status 1) when a rank makes no progress for this many seconds, e.g. "
                    "waiting on a stopped or hung rank (0: never)")
        ->capture_default_str()
        ->check(kNonNegative);
  }
}

void add_sketch_options(CLI::App* cmd, SolveArgs& s) {
  const std::string sk = "Sketch method";
  auto& k = s.options.sketch;
  cmd->add_option("--sketch", k.sketch,
                  "linear: float sketches multiplied by ScaLAPACK GEMM; sign (binary data): majority bits per "
                  "group compared by the XOR+popcount kernel")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, SketchKind>{{"linear", SketchKind::Linear}, {"sign", SketchKind::Sign}}))
      ->default_str("linear")
      ->group(sk);
  auto* both = cmd->add_option("--group-size", s.group_size, "Rows per group of A and of B")->group(sk);
  cmd->add_option("--group-size-a", k.group_a, "Rows per group of A")->capture_default_str()->group(sk)->excludes(both);
  cmd->add_option("--group-size-b", k.group_b, "Rows per group of B")->capture_default_str()->group(sk)->excludes(both);
  cmd->add_option("--reps", k.reps, "Independent repetitions (union of their pairs)")->capture_default_str()->group(sk);
  cmd->add_option("--max-reps", k.max_reps,
                  "Recall control: add repetitions while heavy pairs are estimated missing (or unbounded)")
      ->group(sk);
  cmd->add_flag("!--no-completion", k.complete,
                "Skip neighbourhood completion (checking every row of a found pair against the other side): "
                "for measuring what the repetitions alone miss")
      ->group(sk);
  auto* z = cmd->add_option("--z", k.z,
                            "Detection threshold: signal - z * noise sd (linear: theta - z*sqrt(gA*gB*m2); sign: "
                            "gain(gA)*gain(gB)*theta - z*sqrt(sketch m2)), the noise sampled from the data")
                ->capture_default_str()
                ->group(sk);
  cmd->add_option("--detect-threshold", s.detect_threshold, "Absolute detection threshold on |C[G,H]|")
      ->group(sk)
      ->excludes(z);
  cmd->add_option("--degree", k.degree, "Feature map: 1 (identity) or 2 (<a,b>^2, D = d(d+1)/2 features)")
      ->capture_default_str()
      ->group(sk);
  cmd->add_option("--grid", k.grid,
                  "BLACS process grid PxQ (default: the grid that broadcasts the least of S_A and S_B)")
      ->group(sk);
  cmd->add_option("--block-size", k.block_size, "ScaLAPACK block size (rows and columns of C)")
      ->capture_default_str()
      ->group(sk);
  cmd->add_option("--k-block", k.k_block,
                  "ScaLAPACK block size along d (capped at d; large blocks keep p?gemm near SGEMM peak)")
      ->capture_default_str()
      ->group(sk);
  cmd->add_option("--panel-mib", k.panel_mib, "Memory per rank for one panel of C")->capture_default_str()->group(sk);
  cmd->add_option("--sample-rows", k.sample_rows, "Rows of A and B sampled to estimate m2")
      ->capture_default_str()
      ->group(sk);
  cmd->add_option("--tile-rows", k.tile_rows,
                  "Rows per tile (groups are formed inside tiles); 0: 1024, or fewer when that keeps the ranks' rows "
                  "within 5% of the mean")
      ->capture_default_str()
      ->group(sk);
}

// `solve` and `plan` take the same options; plan needs no output file.
void add_solve(CLI::App& app, SolveArgs& s, bool plan) {
  auto* cmd = plan ? app.add_subcommand("plan", "Print the plan auto would run and its predicted cost; compute nothing")
                   : app.add_subcommand("solve", "Find every heavy pair and write them to an HDF5 file");
  if (plan) s.options.plan_only = true;
  if (!plan)
    cmd->footer(
        "Binary mode (--rho): A and B hold +-1 values; (i, j) is heavy when <a_i,b_j> >= rho*d.\n"
        "Real mode (--tau): any finite values; heavy when <a_i,b_j> >= tau.\n"
        "Output: /pairs int64 [m,2] (row of A, row of B; i < j in a self-join) and\n"
        "/inner_products float64 [m], sorted by (i, j), with provenance attributes.\n"
        "Exit status: 0 success, 2 usage or input error, 3 stopped by a signal after saving a checkpoint\n"
        "(run the same command again to resume), 1 any other failure.");
  add_problem_options(cmd, s, plan);
  add_run_options(cmd, s, plan);
  add_sketch_options(cmd, s);
}

// Turns parsed arguments into options, with the checks CLI11 cannot express.
GenerateOptions to_options(GenerateArgs& g) {
  GenerateOptions o = g.options;
  o.mode = g.type == "real" || (g.tau && g.type != "binary") ? Mode::Real : Mode::Binary;
  if (o.mode == Mode::Binary && g.tau) throw InputError("--tau is for --type real; binary instances take --rho");
  if (o.mode == Mode::Real && g.rho) throw InputError("--rho is for --type binary; real instances take --tau");
  if (o.mode == Mode::Real && !g.tau) throw InputError("--type real needs --tau");
  o.value = o.mode == Mode::Binary ? g.rho.value_or(0.5) : *g.tau;
  return o;
}

SolveOptions to_options(SolveArgs& s) {
  SolveOptions o = s.options;
  o.method = parse_method(s.method);
  if (s.top_k) {
    const std::string& k = *s.top_k;
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(k, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != k.size() || k.empty() || value < 1)
      throw InputError("--top-k must be a positive whole number of rows, got '" + k + "'");
    o.problem.top_k = value;
  }
  if (s.binary && (s.tau || !s.top_k))
    throw InputError(s.tau ? "--binary is for +-1 rows; --tau is real data"
                           : "--binary goes with --top-k (--rho says it otherwise)");
  if (!s.rho && !s.tau && !s.top_k)
    throw InputError("one of --rho (binary data) or --tau (real data) is required, or --top-k K");
  o.problem.any_score = !s.rho && !s.tau;
  o.problem.mode = s.rho || s.binary ? Mode::Binary : Mode::Real;
  o.problem.value = s.rho ? *s.rho : s.tau ? *s.tau : 0.0;
  if (s.group_size) o.sketch.group_a = o.sketch.group_b = *s.group_size;
  o.sketch.detect_threshold = s.detect_threshold;
  o.expect_k = s.expect_k;
  o.problem.a = DatasetRef::parse(s.a, "/A");
  if (!s.b.empty()) o.problem.b = DatasetRef::parse(s.b, "/B");
  return o;
}

void add_calibrate(CLI::App& app, CalibrateArgs& c) {
  auto* cmd = app.add_subcommand("calibrate", "Measure this machine's rates for the planner and save them");
  cmd->footer("Run under the same mpirun/srun layout as the solves that will use the profile (--profile).");
  cmd->add_option("--d", c.d, "Dimension to measure the exact kernels at")->capture_default_str()->check(kPositive);
  cmd->add_option("--grid", c.grid, "BLACS grid PxQ for the GEMM (default: the squarest, rows >= columns)");
  cmd->add_option("--out", c.out, "Profile file (TOML)")->required();
}

// A configuration file's error, naming the file and the key plainly (CLI11 words them as
// INI errors: "INI was not able to parse solve.methd"); empty for other errors.
std::string config_message(const CLI::App& app, const CLI::ParseError& e) {
  const std::string text = e.what(), unknown = "INI was not able to parse ";
  const bool is_config = dynamic_cast<const CLI::ConfigError*>(&e) || text.rfind("invalid TOML", 0) == 0;
  if (!is_config) return {};
  const CLI::Option* option = app.get_config_ptr();
  const std::string file = option && option->count() ? option->as<std::string>() : "the configuration file";
  if (text.rfind(unknown, 0) != 0) return "--config " + file + ": " + text;
  std::string key = text.substr(unknown.size()), command;
  if (const auto dot = key.rfind('.'); dot != std::string::npos) {
    command = " for hipi " + key.substr(0, dot);
    key = key.substr(dot + 1);
  }
  return "--config " + file + ": unknown key '" + key + "'" + command +
         " (keys are the long option names, e.g. method = \"brute\")";
}

}  // namespace

int run(const Comm& comm, int argc, char** argv) {
  CLI::App app(kDescription, "hipi");
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("hipi ") + HIPI_VERSION);
  int verbosity = 1;
  app.add_flag_function(
      "-v,--verbose", [&](std::int64_t n) { verbosity = 1 + static_cast<int>(n); }, "More log detail (debug)");
  // On the top-level app (CLI11 reads config files only there); fallthrough lets users
  // write it after the subcommand: hipi solve --config run.toml ...
  app.set_config("--config", "", "TOML file of options for the subcommand (keys: long option names)");
  app.config_formatter(std::make_shared<TomlConfig>(&app));
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error, not ignored
  app.add_flag_function(
      "-q,--quiet", [&](std::int64_t) { verbosity = 0; }, "Only warnings and errors");
  GenerateArgs generate;
  SolveArgs solve, plan;
  CalibrateArgs calibration;
  add_generate(app, generate);
  add_solve(app, solve, false);
  add_solve(app, plan, true);
  add_calibrate(app, calibration);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parsed the same argv and reached the same verdict; rank 0 speaks for all.
    std::ostringstream quiet;
    std::ostream& out = comm.rank() == 0 ? std::cout : quiet;
    std::ostream& err = comm.rank() == 0 ? std::cerr : quiet;
    if (const std::string config = config_message(app, e); !config.empty()) {
      err << "hipi: error: " << config << std::endl;
      return exit_status(ErrorKind::Input);
    }
    const int code = app.exit(e, out, err);
    return code == 0 ? 0 : exit_status(ErrorKind::Input);
  }

  init_logging(comm, verbosity);
  if (app.got_subcommand("generate")) {
    GenerateOptions options;
    agree(comm, [&] { options = to_options(generate); });
    run_generate(comm, options);
  } else if (app.got_subcommand("solve") || app.got_subcommand("plan")) {
    SolveArgs& args = app.got_subcommand("solve") ? solve : plan;
    SolveOptions options;
    agree(comm, [&] { options = to_options(args); });
    if (options.plan_only) options.method = Method::Auto;
    const StopSignals signals;
    const Watchdog watchdog(comm.rank(), args.stall_timeout);
    run_solve(comm, options);
  } else if (app.got_subcommand("calibrate")) {
    GridShape shape;
    agree(comm, [&] {
      check_output_path(calibration.out, "--out");
      shape = calibration.grid.empty() ? squarest_grid(comm.size()) : parse_grid(calibration.grid, comm.size());
    });
    const MachineProfile profile = calibrate(comm, calibration.d, shape);
    agree(comm, [&] {
      if (comm.rank() == 0) save_profile(calibration.out, profile);
    });
    spdlog::info(
        "calibrate: GEMM {:.1f} / {:.1f} GFLOP/s per rank (float32 / float64, {}), exact checks {:.3g} binary "
        "and {:.3g} real pairs/s per rank at d = {} ({} kernels), all-to-all {:.3g} B/s; saved to {}",
        profile.gemm_f32_flops / 1e9, profile.gemm_f64_flops / 1e9, blas_kernels(), profile.binary_pairs,
        profile.real_pairs, calibration.d, kernel_name(), profile.exchange_bytes, calibration.out);
  }
  return 0;
}

}  // namespace hipi::cli
