// MPI for hipi: Boost.MPI's communicator, plus the few things Boost.MPI does not give.
//
// Boost.MPI is the wrapper over the MPI C API; this header adds collective agreement on
// errors, a checked-call macro for the rare raw MPI call, and an abort that ends every rank.
#pragma once

#include <boost/mpi/communicator.hpp>
#include <mpi.h>

#include <optional>
#include <string>

#include "hipi/error.hpp"

namespace hipi {

using Comm = boost::mpi::communicator;

/// What a rank saw go wrong, to be shared with the others.
struct Failure {
  ErrorKind kind;
  std::string message;
};

/// Collective: if any rank passes a failure, every rank throws the failure of the lowest
/// such rank, marked collective. Returns normally when no rank failed.
void agree_on(const Comm& comm, const std::optional<Failure>& local);

/// Collective: runs `check` on every rank and agrees on the outcome (see agree_on). Only
/// hipi::Error is agreed on; anything else escapes uncaught and aborts the job from main.
template <class F>
void agree(const Comm& comm, F&& check) {
  std::optional<Failure> local;
  try {
    check();
  } catch (const Error& e) {
    local = Failure{e.kind(), e.what()};
  }
  agree_on(comm, local);
}

/// Ends every rank of the job with `status`, after the caller has reported why.
[[noreturn]] void abort_job(const Comm& comm, int status);

/// Message for an MPI error code.
std::string mpi_error_string(int code);

}  // namespace hipi

/// Calls a raw MPI function and throws hipi::MpiError naming the call if it fails.
#define HIPI_MPI_CHECK(call)                                                            \
  do {                                                                                  \
    int hipi_mpi_rc_ = (call);                                                          \
    if (hipi_mpi_rc_ != MPI_SUCCESS)                                                    \
      throw ::hipi::MpiError(std::string(#call) + " failed: " +                         \
                             ::hipi::mpi_error_string(hipi_mpi_rc_) + " at " + __FILE__ + \
                             ":" + std::to_string(__LINE__));                           \
  } while (0)
