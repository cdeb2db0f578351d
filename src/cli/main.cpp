// The hipi executable: MPI set-up and the one place where errors are caught and reported.
#include <boost/mpi/environment.hpp>
#include <boost/mpi/exception.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "hipi/error.hpp"
#include "parallel/mpi.hpp"

int main(int argc, char** argv) {
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
