"""The funnel SVG: well-formed, a bar a funnel stage, the biggest leak in
red; and, where Debian's Chromium is installed, a headless screenshot of it
is not blank (it is skipped elsewhere).

Run by ctest (any python3) with SC_CLI and SC_EXAMPLES_DIR.
"""
import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

CLI = os.environ["SC_CLI"]
EXAMPLES = os.environ["SC_EXAMPLES_DIR"]
SVG_NS = "{http://www.w3.org/2000/svg}"


def funnel_svg():
    run = subprocess.run(
        [CLI, "report", os.path.join(EXAMPLES, "machines", "b2b.textproto"),
         os.path.join(EXAMPLES, "data", "b2b_2026.csv"), "--value", "deal_value",
         "--format", "svg"], capture_output=True, text=True, check=True)
    return run.stdout


def b2b_spec():
    with open(os.path.join(EXAMPLES, "machines", "b2b.textproto")) as f:
        return f.read()


def funnel_svg_of_spec(spec):
    """The sample's funnel SVG (no value attribute) under another spec."""
    with tempfile.TemporaryDirectory() as tmp:
        machine = os.path.join(tmp, "machine.textproto")
        with open(machine, "w") as f:
            f.write(spec)
        return subprocess.run(
            [CLI, "report", machine, os.path.join(EXAMPLES, "data", "b2b_2026.csv"),
             "--format", "svg"], capture_output=True, text=True, check=True).stdout


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour in (2, 6), header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


class FunnelSvg(unittest.TestCase):
    def test_structure(self):
        root = ET.fromstring(funnel_svg())
        self.assertEqual(root.tag, SVG_NS + "svg")
        self.assertIn("viewBox", root.attrib)
        bars = [r for r in root.iter(SVG_NS + "rect") if "bar" in r.get("class", "")]
        # prospecting .. closing and won: the funnel line (follow-up is a
        # side stage).
        self.assertEqual(len(bars), 8)
        leaks = [r for r in bars if "leak" in r.get("class")]
        self.assertEqual(len(leaks), 1)
        self.assertEqual(leaks[0].get("fill"), "#d62828")
        stages = [g.get("data-stage") for g in root.iter(SVG_NS + "g")]
        self.assertEqual(stages[0], "prospecting")
        self.assertEqual(stages[-1], "won")
        leak_stage = [g.get("data-stage") for g in root.iter(SVG_NS + "g")
                      if any("leak" in r.get("class", "") for r in g.iter(SVG_NS + "rect"))]
        self.assertEqual(leak_stage, ["qualification"])
        widths = [float(r.get("width")) for r in bars]
        self.assertEqual(widths[0], max(widths))  # everyone enters prospecting
        conversions = [t for t in root.iter(SVG_NS + "text") if t.get("class") == "conversion"]
        self.assertEqual(len(conversions), 7)  # one between each two bars
        self.assertTrue(all(t.text.endswith("%") for t in conversions))
        # Apart from the bars: lost and side stages, and the rejections.
        texts = {t.get("class"): "".join(t.itertext()) for t in root.iter(SVG_NS + "text")}
        self.assertRegex(texts["off-line"],
                         r"^Off the funnel line, deals now: Closed lost [0-9,]+ · Follow-up [0-9,]+$")
        self.assertRegex(texts["rejected"], r"^Rejected steps: 6,993 of [0-9,]+ \([0-9.]+%\)$")
        self.assertRegex(texts["leak-note"], r"^biggest leak: [0-9,]+ of [0-9,]+ stopped here$")
        # The sample's 5,000 deals start more cycles than that (repeat
        # purchases and reactivations): the subtitle says so, and the first
        # bar counts them.
        summary = re.match(r"^5,000 deals \(([0-9,]+) cycles\), win rate [0-9.]+%, "
                           r"average cycle [0-9.]+ days, as of 2026-12-31$", texts["summary"])
        self.assertIsNotNone(summary, texts["summary"])
        counts = [t.text for t in root.iter(SVG_NS + "text") if t.get("class") == "count"]
        self.assertEqual(summary.group(1), counts[0])
        self.assertNotEqual(counts[0], "5,000")

    def test_summary_names_no_cycles_when_each_deal_has_one(self):
        # The transitions that start new cycles go; their events are then
        # rejected, and every deal keeps its one cycle.
        one_cycle, removed = re.subn(r"transitions \{[^}]*new_cycle: true \}\n", "", b2b_spec())
        self.assertEqual(removed, 2)
        root = ET.fromstring(funnel_svg_of_spec(one_cycle))
        texts = {t.get("class"): "".join(t.itertext()) for t in root.iter(SVG_NS + "text")}
        self.assertRegex(texts["summary"], r"^5,000 deals, win rate [0-9.]+%, ")
        counts = [t.text for t in root.iter(SVG_NS + "text") if t.get("class") == "count"]
        self.assertEqual(counts[0], "5,000")

    def test_long_names_fit_and_are_cut_past_48_characters(self):
        name = "Qualification by the regional sales desk of EMEA & APAC"  # 55
        root = ET.fromstring(funnel_svg_of_spec(
            b2b_spec().replace('display_name: "Qualification"', 'display_name: "%s"' % name)))
        group = [g for g in root.iter(SVG_NS + "g") if g.get("data-stage") == "qualification"][0]
        label = next(group.iter(SVG_NS + "text"))
        self.assertEqual(label.find(SVG_NS + "title").text, name)
        shown = "".join(label.itertext())[len(name):]
        self.assertEqual(shown, name[:47] + "…")
        # The label column is as wide as 48 characters: the bars start after it.
        bar = next(r for r in group.iter(SVG_NS + "rect"))
        self.assertGreaterEqual(float(bar.get("x")), 24 + 8 * 48)

    def test_renders_in_headless_chromium(self):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            self.skipTest("Debian's chromium is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            svg = os.path.join(tmp, "funnel.svg")
            png = os.path.join(tmp, "funnel.png")
            with open(svg, "w") as f:
                f.write(funnel_svg())
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--user-data-dir=" + os.path.join(tmp, "profile"),
                 "--window-size=1100,620", "--screenshot=" + png, "file://" + svg],
                capture_output=True, timeout=120, check=True)
            width, height, channels, rows = png_pixels(png)
            self.assertGreater(width, 500)
            pixels = [row[i:i + 3] for row in rows for i in range(0, len(row), channels)]
            not_white = sum(1 for p in pixels if p != b"\xff\xff\xff")
            red = sum(1 for p in pixels if p[0] > 180 and p[1] < 80 and p[2] < 80)
            blue = sum(1 for p in pixels if p[2] > 120 and p[0] < 100)
            self.assertGreater(not_white, width * height // 50)  # not blank
            self.assertGreater(red, 500)   # the leak's bar
            self.assertGreater(blue, 5000)  # the other bars


if __name__ == "__main__":
    unittest.main()
