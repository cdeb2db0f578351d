#include "parallel/scalapack.hpp"

#include <dlfcn.h>

#include <climits>

extern "C" {
void descinit_(int* desc, const int* m, const int* n, const int* mb, const int* nb, const int* irsrc, const int* icsrc,
               const int* context, const int* lld, int* info);
void psgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
             const float* a, const int* ia, const int* ja, const int* desca, const float* b, const int* ib,
             const int* jb, const int* descb, const float* beta, float* c, const int* ic, const int* jc,
             const int* descc);
void pdgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
             const double* a, const int* ia, const int* ja, const int* desca, const double* b, const int* ib,
             const int* jb, const int* descb, const double* beta, double* c, const int* ic, const int* jc,
             const int* descc);
}

namespace hipi {

namespace {
int to_int(std::int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw ScalapackError(std::string(what) + " = " + std::to_string(v) + " exceeds ScaLAPACK's 32-bit indices");
  return static_cast<int>(v);
}
}  // namespace

std::int64_t block_cyclic_count(std::int64_t n, std::int64_t nb, int proc, int procs) {
  const std::int64_t blocks = n / nb;
  std::int64_t count = (blocks / procs) * nb;
  const std::int64_t extra_blocks = blocks % procs;
  if (proc < extra_blocks)
    count += nb;
  else if (proc == extra_blocks)
    count += n % nb;
  return count;
}

std::int64_t block_cyclic_global(std::int64_t local, std::int64_t nb, int proc, int procs) {
  return (local / nb * procs + proc) * nb + local % nb;
}

Descriptor describe(const BlacsGrid& grid, std::int64_t m, std::int64_t n, std::int64_t mb, std::int64_t nb) {
  Descriptor d;
  d.m = m;
  d.n = n;
  d.mb = mb;
  d.nb = nb;
  d.grid_rows = grid.shape().rows;
  d.grid_cols = grid.shape().cols;
  d.my_row = grid.my_row();
  d.my_col = grid.my_col();
  d.local_rows = block_cyclic_count(m, mb, d.my_row, d.grid_rows);
  d.local_cols = block_cyclic_count(n, nb, d.my_col, d.grid_cols);
  d.ld = std::max<std::int64_t>(1, d.local_rows);
  const int im = to_int(m, "rows"), in = to_int(n, "columns"), imb = to_int(mb, "row block"),
            inb = to_int(nb, "column block"), ild = to_int(d.ld, "leading dimension"), zero = 0,
            context = grid.context();
  int info = 0;
  descinit_(d.desc.data(), &im, &in, &imb, &inb, &zero, &zero, &context, &ild, &info);
  if (info != 0)
    throw ScalapackError("DESCINIT failed with INFO = " + std::to_string(info) + " for a " + std::to_string(m) + " x " +
                         std::to_string(n) + " matrix in " + std::to_string(mb) + " x " + std::to_string(nb) +
                         " blocks");
  return d;
}

template <class T>
void gemm_nn(GemmSize size, Distributed<const T> a, Distributed<const T> b, std::int64_t b_col, Distributed<T> c) {
  const int im = to_int(size.m, "m"), in = to_int(size.n, "n"), ik = to_int(size.k, "k"), one = 1,
            jb = to_int(b_col + 1, "column");
  const T alpha = 1, beta = 0;
  const char no = 'N';
  if constexpr (std::is_same_v<T, float>)
    psgemm_(&no, &no, &im, &in, &ik, &alpha, a.local, &one, &one, a.desc.desc.data(), b.local, &one, &jb,
            b.desc.desc.data(), &beta, c.local, &one, &one, c.desc.desc.data());
  else
    pdgemm_(&no, &no, &im, &in, &ik, &alpha, a.local, &one, &one, a.desc.desc.data(), b.local, &one, &jb,
            b.desc.desc.data(), &beta, c.local, &one, &one, c.desc.desc.data());
}

template void gemm_nn<float>(GemmSize, Distributed<const float>, Distributed<const float>, std::int64_t,
                             Distributed<float>);
template void gemm_nn<double>(GemmSize, Distributed<const double>, Distributed<const double>, std::int64_t,
                              Distributed<double>);

std::string blas_kernels() {
  // Looked up at run time: libblas.so.3 is whichever BLAS Debian's alternatives select.
  using CoreName = char* (*)();
  const auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return corename ? std::string("OpenBLAS ") + corename() : std::string("unknown");
}

}  // namespace hipi
