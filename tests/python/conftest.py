# Shared by the module's tests: the hipi executable (for comparisons with the CLI) and a
# runner for it. The build passes HIPI_BIN and MPIEXEC (tests/CMakeLists.txt).
import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def hipi_bin():
    path = os.environ.get("HIPI_BIN")
    if not path:
        pytest.skip("HIPI_BIN is not set (run through ctest)")
    return path


def run_cli(hipi_bin, *args):
    """Runs `hipi solve ...` at one rank; returns (exit status, stderr)."""
    done = subprocess.run([hipi_bin, "solve", *args], capture_output=True, text=True)
    return done.returncode, done.stderr
