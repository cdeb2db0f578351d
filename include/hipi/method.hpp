// The solve methods by name. Each method lives in one folder under src/methods/ behind the
// SolveMethod interface (solve_method.hpp); this enum names them for options, plans and
// outputs. Adding a method: an enumerator here, its folder, and one line in
// src/methods/registry.cpp.
#pragma once

#include <iosfwd>
#include <string>

namespace hipi {

enum class Method {
  Auto,    // the planner prices every registered method and runs the fastest
  Brute,   // exact distributed brute force (methods/brute/)
  Sketch,  // group sketches, a product, exact verification (methods/sketch/)
  Hash,    // exact multi-index hashing, binary data (methods/hash/)
  Prefix,  // exact prefix bound after a rotation to principal axes, real data (methods/prefix/)
  Sparse,  // inverted index with prefix and norm filters, sparse real data (methods/sparse/)
};

/// Linear: S[G] = sum s_i phi(x_i) in float, multiplied by ScaLAPACK GEMM. Sign (binary
/// data only): the majority bit of that sum per coordinate, compared by the exact
/// XOR+popcount kernel around the brute-force ring (sign_sketch.hpp).
enum class SketchKind { Linear, Sign };

/// The name used on the command line, in plans and in output attributes ("auto", "brute", ...).
std::string method_name(Method method);
/// "linear" or "sign".
std::string sketch_kind_name(SketchKind kind);
std::ostream& operator<<(std::ostream& out, Method method);
std::ostream& operator<<(std::ostream& out, SketchKind kind);

}  // namespace hipi
