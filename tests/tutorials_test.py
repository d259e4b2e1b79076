"""The tutorials (examples/tutorials/*.md) run as written (issue 16).

Each tutorial marks what it asks the reader to do with HTML comments, which
neither GitHub nor Doxygen shows:
  <!-- tutorial:file NAME -->  the fenced block after it is the file NAME;
  <!-- tutorial:run -->        the ```sh block after it is run, line by line;
  <!-- tutorial:output -->     the block after it is what the last command
                               run printed on stdout.
This test installs the build into a scratch prefix (what the tutorials'
step 1 does with `cmake --install build`), then, in an empty directory per
tutorial, writes every file and runs every command, in order, and compares
the output byte for byte. The environment names the prefix only as a
reader with a non-default prefix would (CMAKE_PREFIX_PATH,
PKG_CONFIG_PATH, and PATH for the tool); nothing else points at the
build. `/path/to/salescycle`
stands for the reader's checkout: a copy of the Python package (pip builds
in the directory it is given) and the Go package where it is.

Run by ctest with Debian's interpreter (/usr/bin/python3: its venv, pip
and setuptools install the Python package), with SC_BUILD_DIR,
SC_SOURCE_DIR and SC_GO (the go tool) in the environment.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ["SC_BUILD_DIR"]
SOURCE = os.environ["SC_SOURCE_DIR"]
TUTORIALS = os.path.join(SOURCE, "examples", "tutorials")
LANGUAGES = ("cpp", "c", "python", "go")

MARK = re.compile(r"<!-- tutorial:(file|run|output)(?: ([^ ]+))? -->\n```[a-z+]*\n(.*?)```\n",
                  re.S)


def steps(language):
    """The tutorial's marked steps, in order: (kind, name, text)."""
    with open(os.path.join(TUTORIALS, language + ".md")) as f:
        text = f.read()
    found = [(m.group(1), m.group(2), m.group(3)) for m in MARK.finditer(text)]
    # A marker the pattern missed (a typo, a fence that does not follow)
    # would silently drop a step.
    if len(found) != text.count("<!-- tutorial:"):
        raise AssertionError("%s.md: %d markers, %d understood" %
                             (language, text.count("<!-- tutorial:"), len(found)))
    return found


class Tutorials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        cls.run_checked(["cmake", "--install", BUILD, "--prefix", cls.prefix], cls.tmp.name,
                        os.environ)
        # The reader's checkout, as the tutorials name it.
        cls.checkout = os.path.join(cls.tmp.name, "salescycle")
        shutil.copytree(os.path.join(SOURCE, "capi", "python"),
                        os.path.join(cls.checkout, "capi", "python"),
                        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.so*"))
        os.symlink(os.path.join(SOURCE, "capi", "go"), os.path.join(cls.checkout, "capi", "go"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def run_checked(command, cwd, env, shell=False):
        out = subprocess.run(command, cwd=cwd, env=env, shell=shell, capture_output=True,
                             text=True, timeout=600)
        if out.returncode != 0:
            raise AssertionError("%s failed (%d) in %s:\n%s%s" % (
                command, out.returncode, cwd, out.stdout, out.stderr))
        return out.stdout

    def environment(self, work):
        env = {k: v for k, v in os.environ.items()
               if k not in ("SALESCYCLE_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH",
                            "PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH", "GOFLAGS")}
        env.update({
            "CMAKE_PREFIX_PATH": self.prefix,
            "PKG_CONFIG_PATH": os.path.join(self.prefix, "lib", "pkgconfig"),
            # `python3` is this interpreter (Debian's), `go` the build's.
            "PATH": os.pathsep.join([os.path.join(self.prefix, "bin"),
                                     os.path.dirname(sys.executable),
                                     os.path.dirname(os.environ["SC_GO"]),
                                     os.environ.get("PATH", "")]),
            # No network: the module is replaced by the checkout. The build
            # cache is shared with the build's Go tests.
            "GOPROXY": "off",
            "GOFLAGS": "-mod=mod -buildvcs=false",
            "GOCACHE": os.path.join(BUILD, "go", "cache"),
            "GOPATH": os.path.join(work, "gopath"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        return env

    def follow(self, language):
        """Does what the tutorial says; returns the outputs it checked."""
        work = os.path.join(self.tmp.name, language)
        os.makedirs(work)
        env = self.environment(work)
        last_stdout, outputs = None, []
        for kind, name, text in steps(language):
            text = text.replace("/path/to/salescycle", self.checkout)
            if kind == "file":
                with open(os.path.join(work, name), "w") as f:
                    f.write(text)
            elif kind == "run":
                for line in text.splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        last_stdout = self.run_checked(line, work, env, shell=True)
            else:
                self.assertIsNotNone(last_stdout, "%s.md: an output before any run" % language)
                self.assertEqual(last_stdout, text, "%s.md: the output differs" % language)
                outputs.append(text)
        self.assertTrue(outputs, "%s.md checks no output" % language)
        return outputs

    def test_cpp(self):
        self.follow("cpp")

    def test_c(self):
        self.follow("c")

    def test_python(self):
        self.follow("python")

    def test_go(self):
        self.follow("go")

    def test_the_four_tell_the_same_story(self):
        """Same machine, same report: a change to one is made to all."""
        for what in ("file", "output"):
            texts = {}
            for language in LANGUAGES:
                texts[language] = tuple(
                    text for kind, name, text in steps(language)
                    if kind == what and (what == "output" or name == "saas.textproto"))
                self.assertTrue(texts[language], (language, what))
            self.assertEqual(len(set(texts.values())), 1, "the tutorials' %ss differ" % what)

    def test_the_index_lists_every_tutorial(self):
        with open(os.path.join(TUTORIALS, "README.md")) as f:
            index = f.read()
        for language in LANGUAGES:
            self.assertIn("](%s.md)" % language, index)


if __name__ == "__main__":
    unittest.main()
