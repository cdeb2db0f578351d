// Folder methods/sketch/recall/: recall control of the sketch: repetitions, completion of found
// rows, the sampled background, the miss estimate.
//
// Recall control of the sketch solver: the detection threshold from the sampled noise,
// and the repetitions around one product. After each repetition the verified pairs are
// united (each on the rank owning its row of A), every row of a found pair is completed
// against the other side (completion.hpp), and the heavy pairs still missing are estimated
// from the lone pairs' catches and the plan's model (miss_estimate.hpp); repetitions continue
// while that estimate is at least one half or unbounded, up to the cap.
#pragma once

#include "methods/sketch/repetition.hpp"

namespace hipi {

/// Collective: T_det into run.detect_threshold: --detect-threshold as given, or the signal
/// less z noise standard deviations, the noise measured on a sample of the data
/// (DESIGN.md section 3; sign.hpp), with the sample in run.background.
template <class Matrix>
void set_detect_threshold(const SketchContext<Matrix>& ctx, SketchRun& run);

/// Collective: runs the repetitions of `product` and leaves this rank's distinct pairs in
/// run.pairs, with the recall fields and the per-repetition statistics of `run` set.
template <class Matrix>
void run_repetitions(const SketchContext<Matrix>& ctx, SketchProduct<Matrix>& product, SketchRun& run);

}  // namespace hipi
