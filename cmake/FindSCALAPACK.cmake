# FindSCALAPACK: the MPI ScaLAPACK (with BLACS and PBLAS) as one imported target,
# SCALAPACK::SCALAPACK, linked with the system BLAS and LAPACK.
#
# Debian 12's own scalapack-config.cmake points at /usr/lib instead of the multiarch
# directory and fails to load, so hipi finds the library itself.
find_package(BLAS REQUIRED)
find_package(LAPACK REQUIRED)
find_library(SCALAPACK_LIBRARY
  NAMES scalapack-openmpi scalapack
  HINTS ENV SCALAPACK_ROOT
  PATH_SUFFIXES lib lib64)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SCALAPACK REQUIRED_VARS SCALAPACK_LIBRARY)
if(SCALAPACK_FOUND AND NOT TARGET SCALAPACK::SCALAPACK)
  add_library(SCALAPACK::SCALAPACK UNKNOWN IMPORTED)
  set_target_properties(SCALAPACK::SCALAPACK PROPERTIES
    IMPORTED_LOCATION "${SCALAPACK_LIBRARY}"
    INTERFACE_LINK_LIBRARIES "${LAPACK_LIBRARIES};${BLAS_LIBRARIES}")
endif()
