// The sketch products (DESIGN.md section 2, steps 3-5), each a SketchProduct run once per
// repetition by recall control (recall/repetitions.hpp):
// - linear: float sketches S_A (G_A x d) and S_B^T (d x G_B) moved to a 2D block-cyclic
//   layout, C = S_A S_B^T with ScaLAPACK one column panel at a time (C is never held
//   whole), detection on each panel (detect.hpp), then routing and verification;
// - sign (binary data): majority bits per group compared by the brute-force ring with the
//   exact XOR+popcount kernel, |<., .>| >= T_det as candidates.
#pragma once

#include "methods/sketch/repetition.hpp"

namespace hipi {

/// Collective: the whole linear-sketch run (T_det, the grid, the repetitions); T is the
/// sketches' element type (float while binary sums stay exact in it, solver.cpp).
template <class Matrix, class T>
SketchRun solve_linear(const SketchContext<Matrix>& ctx);

/// Collective: the whole sign-sketch run.
SketchRun solve_sign(const SketchContext<BitMatrix>& ctx);

}  // namespace hipi
