"""Every function c.h declares has a counterpart in the Python and the Go
package, or is in an exclusion list below that says why not.

A function counts as covered when the package's own code calls it: by name
(Python's `lib.sc_x`, Go's `C.sc_x` or a call in a cgo preamble), or, for the
pipeline and journey calls that Python's shared Stepping class makes by
prefix (`self._call("set_int64", ...)` on "sc_pipeline_" or "sc_journey_"),
by that verb. The prototype table in _native.py does not count: a prototype
nobody calls is not an API. Run by ctest with SC_SOURCE_DIR set.
"""
import glob
import os
import re
import unittest

ROOT = os.environ.get("SC_SOURCE_DIR",
                      os.path.join(os.path.dirname(__file__), os.pardir))

# Functions a binding does without, and why. Keep each reason true.
LOADS_WITH_LIMITS = ("loads go through *_load_with_limits / "
                     "*_load_file_with_limits, whose NULL limits are the defaults")
PYTHON_EXCLUDED = {
    "sc_pipeline_load": LOADS_WITH_LIMITS,
    "sc_pipeline_load_file": LOADS_WITH_LIMITS,
    "sc_journey_load": LOADS_WITH_LIMITS,
    "sc_status_name": "errors.py has an exception class per code, named for it",
    "sc_pipeline_funnel": "funnel() calls sc_pipeline_funnel_with, which takes every option",
    "sc_funnel_state_capture": ("funnel_state() calls sc_funnel_state_capture_with, which "
                                "takes every option"),
}
NAMES_CACHED = "the machine's names are read once into Go maps; lookups need no cgo call"
GO_EXCLUDED = {
    "sc_pipeline_load": LOADS_WITH_LIMITS,
    "sc_pipeline_load_file": LOADS_WITH_LIMITS,
    "sc_journey_load": LOADS_WITH_LIMITS,
    "sc_machine_find_stage": NAMES_CACHED,
    "sc_machine_find_event": NAMES_CACHED,
    "sc_machine_find_attribute": NAMES_CACHED,
    "sc_pipeline_fire_by_name": NAMES_CACHED + " (Fire looks the id up, then fires)",
    "sc_journey_fire_by_name": NAMES_CACHED + " (Fire looks the id up, then fires)",
    "sc_pipeline_stage_count": "StageCounts returns every stage's in one call",
    "sc_pipeline_funnel": "Funnel calls FunnelWith (sc_pipeline_funnel_with), which takes every option",
    "sc_funnel_state_capture": ("FunnelState calls FunnelStateWith "
                                "(sc_funnel_state_capture_with), which takes every option"),
}


def declared():
    with open(os.path.join(ROOT, "capi", "salescycle", "c.h")) as f:
        header = f.read()
    return re.findall(r"SC_EXPORT\s+[^;(]*?\b(sc_\w+)\s*\(", header)


def package_text(pattern, skip):
    text = ""
    for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
        if not skip(path):
            with open(path) as f:
                text += f.read()
    return text


def python_calls():
    # The prototype table is not a use: drop its entries, keep the rest.
    text = package_text("capi/python/salescycle/*.py", lambda p: False)
    text = re.sub(r'^\s*"sc_\w+"\s*:.*$', "", text, flags=re.M)
    called = set(re.findall(r"\b(sc_\w+)\b", text))
    verbs = set(re.findall(r'"([a-z_0-9]+)"', text))
    # Names built at run time: getattr(lib, "sc_machine_num_%ss" % kind).
    patterns = [re.compile("^" + p.replace("%s", r"\w+") + "$")
                for p in re.findall(r'"(sc_\w*%s\w*)"', text)]
    return called, verbs, patterns


def go_calls():
    text = package_text("capi/go/salescycle/*.go",
                        lambda p: p.endswith("_test.go"))
    return set(re.findall(r"\b(sc_\w+)\s*\(", text)) | set(
        re.findall(r"\bC\.(sc_\w+)\b", text))


class BindingsCoverC(unittest.TestCase):
    def test_the_header_parses(self):
        names = declared()
        self.assertGreater(len(names), 90)
        self.assertIn("sc_pipeline_apply_parallel", names)

    def test_python_calls_every_function(self):
        called, verbs, patterns = python_calls()
        missing = []
        for name in declared():
            if name in called or name in PYTHON_EXCLUDED:
                continue
            if any(p.match(name) for p in patterns):
                continue
            m = re.match(r"sc_(pipeline|journey)_(\w+)$", name)
            if m and m.group(2) in verbs:
                continue
            missing.append(name)
        self.assertEqual(missing, [], "c.h functions the Python package "
                         "does not call (add them, or exclude them with a reason)")

    def test_go_calls_every_function(self):
        called = go_calls()
        missing = [n for n in declared()
                   if n not in called and n not in GO_EXCLUDED]
        self.assertEqual(missing, [], "c.h functions the Go package does "
                         "not call (add them, or exclude them with a reason)")

    def test_exclusions_are_not_stale(self):
        names = set(declared())
        for excluded in (PYTHON_EXCLUDED, GO_EXCLUDED):
            for name in excluded:
                self.assertIn(name, names, "excluded but not in c.h")


if __name__ == "__main__":
    unittest.main()
