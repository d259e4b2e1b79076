"""The shared library's ABI: it exports exactly the functions c.h declares,
and its SONAME carries the major version.

Run by ctest with SC_C_LIBRARY (the built libsalescycle_c.so), SC_C_HEADER
(capi/salescycle/c.h) and SC_VERSION_MAJOR in the environment. Needs nm and
objdump (binutils, which g++ brings); any python3 will do.
"""
import os
import re
import subprocess
import unittest

LIBRARY = os.environ["SC_C_LIBRARY"]
HEADER = os.environ["SC_C_HEADER"]
MAJOR = os.environ["SC_VERSION_MAJOR"]


def declared():
    with open(HEADER) as f:
        text = f.read()
    return set(re.findall(r"SC_EXPORT\s+[\w\s\*]*?\b(sc_\w+)\s*\(", text))


def exported():
    out = subprocess.run(["nm", "-D", "--defined-only", LIBRARY],
                         capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


class Abi(unittest.TestCase):
    def test_exports_exactly_the_declared_functions(self):
        decl = declared()
        self.assertGreater(len(decl), 80)  # the parse found the API
        exp = exported()
        self.assertEqual(sorted(exp - decl), [], "exported but not declared")
        self.assertEqual(sorted(decl - exp), [], "declared but not exported")

    def test_soname_carries_the_major_version(self):
        out = subprocess.run(["objdump", "-p", LIBRARY], capture_output=True,
                             text=True, check=True).stdout
        soname = re.search(r"SONAME\s+(\S+)", out)
        self.assertIsNotNone(soname)
        self.assertEqual(soname.group(1), f"libsalescycle_c.so.{MAJOR}")


if __name__ == "__main__":
    unittest.main()
