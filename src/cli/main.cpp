// The hipi executable: MPI set-up and the one place where errors are caught and reported.
#include <unistd.h>

#include <boost/mpi/environment.hpp>
#include <boost/mpi/exception.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "hipi/error.hpp"
#include "parallel/mpi.hpp"

namespace {

// More ranks on this node than cores (Open MPI's mpirun says how many): ranks waiting in
// MPI then yield the core instead of spinning. Open MPI does this itself only when it knows
// it is oversubscribed (not with declared slots, a hostfile); with a busy neighbour a
// spinning 3-rank job on 2 cores ran 18 s against 6 s yielding (measured). Set before
// MPI_Init, never over the user's own setting.
void yield_when_oversubscribed() {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (local && cores > 0 && std::atol(local) > cores) ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
}

}  // namespace

int main(int argc, char** argv) {
  yield_when_oversubscribed();
  boost::mpi::environment env(argc, argv, /*abort_on_exception=*/false);
  hipi::Comm world;
  int status = 1;
  try {
    return hipi::cli::run(world, argc, argv);
  } catch (const hipi::Error& e) {
    // Agreed errors: every rank holds the same one; rank 0 reports, every rank exits.
    if (e.collective()) {
      if (world.rank() == 0)
        std::cerr << (e.kind() == hipi::ErrorKind::Stopped ? "hipi: " : "hipi: error: ") << e.what() << std::endl;
      return hipi::exit_status(e.kind());
    }
    std::cerr << "hipi: rank " << world.rank() << ": " << hipi::kind_name(e.kind()) << ": " << e.what() << std::endl;
    status = hipi::exit_status(e.kind());
  } catch (const boost::mpi::exception& e) {
    std::cerr << "hipi: rank " << world.rank() << ": MPI error: " << e.what() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "hipi: rank " << world.rank() << ": " << e.what() << std::endl;
  }
  // This rank cannot tell whether the others saw the error: end them all, none may hang.
  hipi::abort_job(world, status);
}
