# hipi_add_mpi_test(NAME <name> TARGET <target> RANKS <n>... [ARGS <arg>...])
# Registers one CTest test per rank count: <name>_np<n>, run under mpirun with <n> ranks.
# More ranks than cores is normal here (2-core machines run 3 and 4 ranks), hence
# --oversubscribe; PROCESSORS lets `ctest -j` schedule the tests sensibly.
if(NOT DEFINED HIPI_MPIEXEC_PREFLAGS)
  set(HIPI_MPIEXEC_PREFLAGS --oversubscribe ${MPIEXEC_PREFLAGS})
endif()
# Open MPI refuses to run as root (CI runs as root) unless told twice.
# HIPI_CACHE_DIR: auto's cached machine profiles stay in the build tree, not the user's home.
set(HIPI_MPI_TEST_ENV OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
    HIPI_CACHE_DIR=${CMAKE_BINARY_DIR}/test-profile-cache)

# Sanitizer builds: leaks and the like inside Open MPI, its PMIx/hwloc/libevent and HDF5's
# MPI-IO layer are theirs, suppressed by library (cmake/lsan.supp); nothing of hipi's is.
# Leaks are traced with the slow unwinder: the MPI libraries have no frame pointers, and
# the fast one stops at their first frame, before the library a suppression names.
if(HIPI_SANITIZE)
  list(APPEND HIPI_MPI_TEST_ENV
       "ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0:exitcode=86"
       "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_LIST_DIR}/lsan.supp:print_suppressions=0"
       "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()

function(hipi_add_mpi_test)
  cmake_parse_arguments(T "" "NAME;TARGET;TIMEOUT" "RANKS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    # Quiet, the MPI groups take 30-80 s on 2 cores; at 3 and 4 ranks a busy neighbour
    # slows them several times (ranks spin while they wait): 600 s is 7x the slowest. The
    # sanitizers' build runs 3-5x slower again (285 s at 2 ranks beside another build).
    set(T_TIMEOUT 600)
    if(HIPI_SANITIZE)
      set(T_TIMEOUT 1500)
    endif()
  endif()
  foreach(n IN LISTS T_RANKS)
    add_test(NAME ${T_NAME}_np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${HIPI_MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${T_TARGET}> ${MPIEXEC_POSTFLAGS} ${T_ARGS})
    set_tests_properties(${T_NAME}_np${n} PROPERTIES
      PROCESSORS ${n} TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${HIPI_MPI_TEST_ENV}")
  endforeach()
endfunction()
