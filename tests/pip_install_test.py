"""pip installs the Python package with no network, into a virtual
environment, and the installed package finds the C library with no
environment variable (issue 16): one `cmake --install` put in a prefix
(found through pkg-config), or one the package carries.

Run by ctest with Debian's interpreter (/usr/bin/python3: its pip,
setuptools and wheel build the package) and SC_BUILD_DIR, SC_SOURCE_DIR
in the environment. Works on copies in a temporary directory: pip builds
in the directory it is given, and the source tree stays as it was.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ["SC_BUILD_DIR"]
SOURCE = os.environ["SC_SOURCE_DIR"]
LIBRARIES = ("libsalescycle_c.so.0", "libsalescycle.so.0")


def run(*args, **kwargs):
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    if out.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(args), out.returncode,
                                                       out.stdout, out.stderr))
    return out


def clean_env(**extra):
    """No variable that would point the package at the library."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SALESCYCLE_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH",
                        "PKG_CONFIG_PATH")}
    env.update(extra)
    return env


class PipInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        run("cmake", "--install", BUILD, "--prefix", cls.prefix)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def install(self, name, carry):
        """A venv with the package pip-installed from a copy of capi/python;
        `carry`: the installed libraries copied beside the package first."""
        src = os.path.join(self.tmp.name, name, "src")
        shutil.copytree(os.path.join(SOURCE, "capi", "python"), src,
                        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.so*"))
        if carry:
            for library in LIBRARIES:
                shutil.copy(os.path.join(self.prefix, "lib", library),
                            os.path.join(src, "salescycle"))
        venv = os.path.join(self.tmp.name, name, "venv")
        run(sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv)
        python = os.path.join(venv, "bin", "python")
        run(sys.executable, "-m", "pip", "--python", python, "install", "--no-build-isolation",
            "--no-deps", "--no-index", "--quiet", src)
        return python

    def check(self, python, env):
        # From a directory outside the repository, so that nothing but the
        # installed package can be imported.
        out = run(python, "-c",
                  "import salescycle, sys; m = salescycle.Machine.from_file(sys.argv[1]); "
                  "print(salescycle.library_version(), m.name, salescycle.__file__)",
                  os.path.join(SOURCE, "examples", "machines", "b2b.textproto"),
                  cwd=self.tmp.name, env=env)
        self.assertRegex(out.stdout, r"^\d+\.\d+\.\d+ b2b ")
        self.assertIn(os.path.join(self.tmp.name), out.stdout)  # the venv's copy
        return out

    def test_the_package_carries_the_library(self):
        python = self.install("carried", carry=True)
        self.check(python, clean_env())

    def test_the_package_finds_the_installed_library(self):
        python = self.install("found", carry=False)
        # The prefix is not a system one here, so pkg-config is told where
        # its .pc files are; installed to /usr/local it needs nothing.
        self.check(python, clean_env(PKG_CONFIG_PATH=os.path.join(self.prefix, "lib",
                                                                   "pkgconfig")))

    def test_no_library_anywhere_is_an_error_that_says_what_to_do(self):
        import ctypes.util
        system = [p for p in ("/usr/local/lib", "/usr/lib", sys.prefix + "/lib")
                  if os.path.exists(os.path.join(p, LIBRARIES[0]))]
        if system or ctypes.util.find_library("salescycle_c"):
            self.skipTest("this machine has the library installed system-wide (%s): the "
                          "package finds it" % (system or "ldconfig"))
        python = self.install("missing", carry=False)
        missing = subprocess.run([python, "-c", "import salescycle"], capture_output=True,
                                 text=True, cwd=self.tmp.name,
                                 env=clean_env(PKG_CONFIG_PATH=self.tmp.name))
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("cmake --install build", missing.stderr)
        self.assertIn("SALESCYCLE_LIBRARY", missing.stderr)


    def test_the_readme_python_block_runs_as_written(self):
        with open(os.path.join(SOURCE, "README.md")) as f:
            readme = f.read()
        marker = "<!-- example:python"
        self.assertIn(marker, readme)
        block = readme[readme.index(marker):]
        block = block[block.index("```python\n") + len("```python\n"):]
        block = block[:block.index("```")]
        python = self.install("readme", carry=True)
        # From the repository's root, where the block's paths lead; the
        # package imported is the venv's (the root holds none).
        out = run(python, "-c", block, cwd=SOURCE,
                  env=clean_env(PYTHONDONTWRITEBYTECODE="1"))
        self.assertIn("'qualification': 1", out.stdout)  # contacted, then qualified


if __name__ == "__main__":
    unittest.main()
