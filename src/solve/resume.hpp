// What lets a solve resume a checkpoint (answer/checkpoint.hpp): the key a checkpoint must
// share with the run, and the checksum of the rows it read.
#pragma once

#include <optional>

#include "answer/checkpoint.hpp"
#include "io/input.hpp"
#include "methods/solve_options.hpp"

namespace hipi {

/// The inputs of a solve: A, and B (null in a self-join).
struct SolveInputs {
  const InputMatrix& a;
  const InputMatrix* b;
};

/// Every option that changes the answer, by name: the checkpoint's key holds them all, so
/// a checkpoint is resumed only by a run that asks the same question. An option that
/// changes the answer (or auto's choice of method) belongs here.
nlohmann::ordered_json answer_options(const Threshold& threshold, const SolveOptions& options);

/// What a checkpoint must share with this run to be resumed by it: the inputs (the data's
/// checksum is added by the Checkpointer), answer_options, and the ranks (the work split).
nlohmann::ordered_json checkpoint_key(const SolveInputs& inputs, const Threshold& threshold,
                                      const SolveOptions& options, int ranks);

/// The checkpoint configuration of a solve over these rows (`b` null in a self-join):
/// saved beside options.out at options.checkpoint_interval when a method that may run
/// checkpoints (asked for, or one auto may choose), never otherwise.
template <class Matrix>
CheckpointConfig checkpoint_config(const Comm& comm, const SolveInputs& inputs, const Threshold& threshold,
                                   const SolveOptions& options, const LocalRows<Matrix>& a, const LocalRows<Matrix>* b);

}  // namespace hipi
