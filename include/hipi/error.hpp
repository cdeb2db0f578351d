// Typed exceptions: the single error path of hipi.
//
// Every failure is thrown as a hipi::Error subclass and caught once, in main. The kind of
// error decides the exit status (DESIGN.md section 5): bad input or usage exits 2, anything
// else exits 1. An error is "collective" when every rank raised the same one (see
// hipi::agree in mpi.hpp): then rank 0 alone prints it and every rank exits normally.
// Otherwise the rank that failed prints it with its rank and aborts the whole job.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace hipi {

enum class ErrorKind {
  Input,      // the user's files, datasets or options are wrong (exit status 2)
  Io,         // a file could not be written, renamed or removed (exit status 1)
  Mpi,        // an MPI call failed
  Hdf5,       // an HDF5 call failed for a reason other than the user's input
  Scalapack,  // a BLACS/ScaLAPACK call reported an error
  Internal,   // a broken invariant: a bug in hipi
  Stopped,    // a signal stopped the run after its checkpoint was saved (exit status 3)
};

/// Exit status for an error of this kind: 2 for input errors, 3 for a stop after a
/// checkpoint, 1 for the rest.
int exit_status(ErrorKind kind);
const char* kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, bool collective = false)
      : std::runtime_error(message), kind_(kind), collective_(collective) {}
  ErrorKind kind() const { return kind_; }
  /// True when every rank of the job threw this same error.
  bool collective() const { return collective_; }

 private:
  ErrorKind kind_;
  bool collective_;
};

class InputError : public Error {
 public:
  explicit InputError(const std::string& message, bool collective = false)
      : Error(ErrorKind::Input, message, collective) {}
};
class IoError : public Error {
 public:
  explicit IoError(const std::string& message, bool collective = false) : Error(ErrorKind::Io, message, collective) {}
};
class MpiError : public Error {
 public:
  explicit MpiError(const std::string& message, bool collective = false) : Error(ErrorKind::Mpi, message, collective) {}
};
class Hdf5Error : public Error {
 public:
  explicit Hdf5Error(const std::string& message, bool collective = false)
      : Error(ErrorKind::Hdf5, message, collective) {}
};
class ScalapackError : public Error {
 public:
  explicit ScalapackError(const std::string& message, bool collective = false)
      : Error(ErrorKind::Scalapack, message, collective) {}
};
class StoppedError : public Error {
 public:
  explicit StoppedError(const std::string& message, bool collective = false)
      : Error(ErrorKind::Stopped, message, collective) {}
};
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& message, bool collective = false)
      : Error(ErrorKind::Internal, message, collective) {}
};

/// True while an exception is unwinding the stack. Destructors of objects whose cleanup is
/// collective (a file opened with MPI-IO, a BLACS grid) skip it then: the error may be this
/// rank's alone, and a collective call the other ranks never make would hang the job before
/// main reaches MPI_Abort. The leak lasts until the job ends either way.
inline bool unwinding() {
  return std::uncaught_exceptions() > 0;
}

/// Throws the Error subclass that matches `kind`.
[[noreturn]] void throw_error(ErrorKind kind, const std::string& message, bool collective);

}  // namespace hipi

/// Checks an internal invariant; a failure is a bug in hipi, reported with file and line.
#define HIPI_ASSERT(cond)                                                                                    \
  do {                                                                                                       \
    if (!(cond))                                                                                             \
      throw ::hipi::InternalError(std::string("internal error: ") + #cond + " failed at " + __FILE__ + ":" + \
                                  std::to_string(__LINE__));                                                 \
  } while (0)
