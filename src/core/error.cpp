#include "hipi/error.hpp"

namespace hipi {

int exit_status(ErrorKind kind) {
  return kind == ErrorKind::Input ? 2 : kind == ErrorKind::Stopped ? 3 : 1;
}

const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Input:
      return "input error";
    case ErrorKind::Io:
      return "I/O error";
    case ErrorKind::Mpi:
      return "MPI error";
    case ErrorKind::Hdf5:
      return "HDF5 error";
    case ErrorKind::Scalapack:
      return "ScaLAPACK error";
    case ErrorKind::Internal:
      return "internal error";
    case ErrorKind::Stopped:
      return "stopped";
  }
  return "error";
}

void throw_error(ErrorKind kind, const std::string& message, bool collective) {
  switch (kind) {
    case ErrorKind::Input:
      throw InputError(message, collective);
    case ErrorKind::Io:
      throw IoError(message, collective);
    case ErrorKind::Mpi:
      throw MpiError(message, collective);
    case ErrorKind::Hdf5:
      throw Hdf5Error(message, collective);
    case ErrorKind::Scalapack:
      throw ScalapackError(message, collective);
    case ErrorKind::Stopped:
      throw StoppedError(message, collective);
    case ErrorKind::Internal:
      break;
  }
  throw InternalError(message, collective);
}

}  // namespace hipi
