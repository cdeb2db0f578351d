#include "solve/resume.hpp"

#include <cmath>
#include <filesystem>
#include <utility>
#include <vector>

#include "methods/solve_method.hpp"

namespace hipi {

nlohmann::ordered_json checkpoint_key(const SolveInputs& inputs, const Threshold& threshold,
                                      const SolveOptions& options, int ranks) {
  const auto input = [](const InputMatrix& in) {
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(in.ref.file, ec);
    return nlohmann::ordered_json{{"dataset", in.ref.str()},
                                  {"rows", in.rows},
                                  {"columns", in.cols},
                                  {"file_bytes", ec ? -1 : static_cast<std::int64_t>(bytes)}};
  };
  nlohmann::ordered_json key{
      {"version", HIPI_VERSION}, {"a", input(inputs.a)}, {"b", inputs.b ? input(*inputs.b) : nlohmann::ordered_json()}};
  key.update(answer_options(threshold, options));
  key["ranks"] = ranks;
  return key;
}

nlohmann::ordered_json answer_options(const Threshold& threshold, const SolveOptions& options) {
  const Problem& problem = options.problem;
  return {{"mode", mode_name(problem.mode)},
          // No threshold (top-k alone) is -infinity, which JSON cannot hold: null, as read back.
          {"threshold", std::isfinite(threshold.theta) ? nlohmann::ordered_json(threshold.theta) : nullptr},
          {"abs", problem.abs},
          {"cosine", problem.cosine},
          {"skip_zero_rows", problem.skip_zero_rows},
          {"components", options.components},
          {"top_k", problem.top_k},
          {"any_score", problem.any_score},
          {"method", method_name(options.method)},
          {"seed", options.seed},
          {"delta", options.delta},
          {"expect_k", options.expect_k ? nlohmann::ordered_json(*options.expect_k) : nlohmann::ordered_json()}};
}

template <class Matrix>
CheckpointConfig checkpoint_config(const Comm& comm, const SolveInputs& inputs, const Threshold& threshold,
                                   const SolveOptions& options, const LocalRows<Matrix>& a,
                                   const LocalRows<Matrix>* b) {
  const bool may_checkpoint =
      !options.plan_only && (options.method == Method::Auto || solve_method(options.method).checkpoints());
  return {checkpoint_path(options.out), may_checkpoint ? options.checkpoint_interval : 0,
          !options.plan_only && !options.out.empty(), checkpoint_key(inputs, threshold, options, comm.size()),
          [&comm, &a, b] {
            std::vector<std::pair<const void*, std::size_t>> rows{
                {a.rows.data(), a.rows.storage_size() * sizeof(*a.rows.data())}};
            if (b) rows.emplace_back(b->rows.data(), b->rows.storage_size() * sizeof(*b->rows.data()));
            return data_checksum(comm, rows);
          }};
}

template CheckpointConfig checkpoint_config(const Comm&, const SolveInputs&, const Threshold&, const SolveOptions&,
                                            const LocalRows<BitMatrix>&, const LocalRows<BitMatrix>*);
template CheckpointConfig checkpoint_config(const Comm&, const SolveInputs&, const Threshold&, const SolveOptions&,
                                            const LocalRows<RealMatrix>&, const LocalRows<RealMatrix>*);

}  // namespace hipi
