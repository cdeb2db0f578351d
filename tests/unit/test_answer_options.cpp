// The checkpoint's key holds every option that changes the answer (solve/resume.hpp): a
// checkpoint saved under one set is never resumed under another.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "solve/resume.hpp"

using namespace hipi;

namespace {

SolveOptions real_options() {
  SolveOptions o;
  o.problem.mode = Mode::Real;
  o.problem.value = 0.5;
  o.method = Method::Brute;
  return o;
}

}  // namespace

TEST(AnswerOptions, EachOptionThatChangesTheAnswerChangesThem) {
  const std::vector<std::pair<std::string, std::function<void(SolveOptions&)>>> changes = {
      {"tau", [](SolveOptions& o) { o.problem.value = 0.6; }},
      {"binary mode", [](SolveOptions& o) { o.problem.mode = Mode::Binary; }},
      {"--abs", [](SolveOptions& o) { o.problem.abs = true; }},
      {"--cosine", [](SolveOptions& o) { o.problem.cosine = true; }},
      {"--skip-zero-rows", [](SolveOptions& o) { o.problem.skip_zero_rows = true; }},
      {"--components", [](SolveOptions& o) { o.components = true; }},
      {"--method", [](SolveOptions& o) { o.method = Method::Prefix; }},
      {"--seed", [](SolveOptions& o) { o.seed = 2; }},
      {"--delta", [](SolveOptions& o) { o.delta = 1e-6; }},
      {"--expect-k", [](SolveOptions& o) { o.expect_k = 10; }},
      {"--top-k", [](SolveOptions& o) { o.problem.top_k = 10; }},
      {"--top-k without a threshold", [](SolveOptions& o) { o.problem.top_k = 10, o.problem.any_score = true; }},
  };
  const SolveOptions base = real_options();
  const auto options_of = [](const SolveOptions& o) { return answer_options(o.problem.threshold(64), o); };
  for (const auto& [name, change] : changes) {
    SolveOptions changed = base;
    change(changed);
    EXPECT_NE(options_of(changed), options_of(base)) << name << " is not among the options a checkpoint must match";
  }
  EXPECT_EQ(options_of(base), options_of(real_options()));
  // Saved as JSON and read back, a key equals itself: top-k without a threshold too (-infinity).
  SolveOptions top_k = base;
  top_k.problem.top_k = 5, top_k.problem.any_score = true;
  EXPECT_EQ(nlohmann::ordered_json::parse(options_of(top_k).dump()), options_of(top_k));
}
