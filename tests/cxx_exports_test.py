"""libsalescycle.so (the C++ library, shared) exports its public API and
nothing else of its own: not salescycle::internal, not the generated
protobuf code (salescycle::v1), not Abseil's or protobuf's symbols (issue
16 counted 1,291 exported symbols, 737 of them generated protobuf code).

What may remain besides the API: weak instantiations of std templates
(libstdc++ declares namespace std with default visibility, so an
instantiation the library makes is visible whatever its arguments).

Run by ctest with SC_CXX_LIBRARY (the built libsalescycle.so) and
SC_INCLUDE_DIR (include/) in the environment; needs nm (binutils).
"""
import glob
import os
import re
import subprocess
import unittest

LIBRARY = os.environ["SC_CXX_LIBRARY"]
INCLUDE = os.environ["SC_INCLUDE_DIR"]
HIDDEN = ("salescycle::internal::", "salescycle::v1::", "salescycle::bench::",
          "google::", "absl::")


def exported():
    """The demangled names (the part before the argument list) of the
    symbols the library defines in its dynamic table."""
    out = subprocess.run(["nm", "-D", "-C", "--defined-only", LIBRARY],
                         capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            names.append(parts[2])
    return names


def owner(symbol):
    """`salescycle::Pipeline::Apply` of `salescycle::Pipeline::Apply(...)`,
    without a leading return type (`void std::...`) or "typeinfo for"."""
    name = symbol.split("(", 1)[0].replace("[abi:cxx11]", "")
    name = re.sub(r"^(typeinfo name for|typeinfo for|vtable for|VTT for)\s+", "", name)
    return name.split(" ")[-1] if " " in name and not name.startswith("operator") else name


class CxxExports(unittest.TestCase):
    def test_only_the_public_api_is_exported(self):
        symbols = exported()
        leaked = sorted({owner(s) for s in symbols if owner(s).startswith(HIDDEN)})
        self.assertEqual(leaked, [], "not public API, yet exported")
        # The API is there: every class and free function marked SC_API.
        marked = set()
        for header in glob.glob(os.path.join(INCLUDE, "salescycle", "*.h")):
            if header.endswith("visibility.h"):
                continue  # defines SC_API
            with open(header) as f:
                text = f.read()
            marked.update(re.findall(r"class SC_API (\w+)", text))
            marked.update(re.findall(r"SC_API [^(;{\n]*?\b(\w+)\(", text))
        # Observer is all inline (virtuals included): the library emits
        # nothing of it, and a host's subclass makes its own vtable.
        marked.discard("Observer")
        self.assertGreater(len(marked), 25)  # the parse found them
        names = {owner(s) for s in symbols}
        for api in sorted(marked):
            with self.subTest(api=api):
                self.assertTrue(any(n == "salescycle::" + api or
                                    n.startswith("salescycle::" + api + "::") for n in names),
                                "salescycle::%s is marked SC_API but not exported" % api)
        # Before hidden visibility: 1,291 at the count, 2,228 before
        # this change. What is left is the API and std's weak instantiations.
        self.assertLess(len(symbols), 400)


if __name__ == "__main__":
    unittest.main()
