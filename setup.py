"""Builds the Python package hipi with the project's CMake: the extension hipi._hipi, and
the hipi executable, installed into the environment's bin/ as it is (no Python wrapper:
under mpirun every rank starts the C++ program itself, and a wrapper that imported hipi
would initialise MPI before it). The version is CMakeLists.txt's. HIPI_BUILD_DIR names a
CMake build tree to build in (and reuse) instead of a fresh one under build-python/: the
test suite passes its own."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
EXECUTABLE = "build-python/bin/hipi"  # where build_ext leaves the executable for install_data


def cmake_version():
    found = re.search(r"project\(hipi VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    if not found:
        sys.exit("setup.py: no project(hipi VERSION ...) in CMakeLists.txt")
    return found.group(1)


class CMakeBuild(build_ext):
    """Configures (once) and builds the module and the executable, then copies the module
    into the package and the executable where install_data takes it from."""

    def build_extension(self, ext):
        build_dir = Path(os.environ.get("HIPI_BUILD_DIR") or Path(self.build_temp).resolve() / "cmake")
        if not (build_dir / "CMakeCache.txt").exists():
            subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                            "-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={sys.executable}"], check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--parallel", str(os.cpu_count() or 1), "--target",
                        "hipi_python", "hipi_python_files", "hipi"], check=True)
        module = next((build_dir / "python" / "hipi").glob("_hipi*.so"))
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(module, target)
        executable = ROOT / EXECUTABLE
        executable.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / "hipi", executable)


setup(
    version=cmake_version(),
    packages=["hipi"],
    package_dir={"": "python"},
    ext_modules=[Extension("hipi._hipi", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    data_files=[("bin", [EXECUTABLE])],
    options={"build": {"build_base": "build-python"}, "egg_info": {"egg_base": "build-python"}},
    zip_safe=False,
)
