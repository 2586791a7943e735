"""Checks mxb's HTML pages with Python's own parsers (html.parser, PIL, xml.etree),
never with mxb's code.

  check_html.py report PAGE.html REPORT.json   the report page
  check_html.py compare PAGE.html A.json B.json TOL REL   the compare page
  check_html.py trend PAGE.html SHOW.json WINDOW TOL     mxb history html's page

Both: the page parses as HTML with every non-void element closed in order, has no
script and no reference outside itself but links (<a href>) by a relative path to
files that exist beside it (report --figures DIR: each figure's full-size PNG; such a
link must open a PNG), and every embedded image decodes (PNG by PIL, SVG by
xml.etree). report: every number of its tables is the JSON's value
(data-value exactly, the text rounded to 2 decimals), and every AUC, accuracy,
pixel accuracy, mIoU and mAP of the JSON is in a table. compare: the rows marked
moved, and the list of moved metrics, are exactly the metrics that moved by
mxb compare's rule, recomputed here from the two JSON reports. trend: one PNG per
metric, every value cell (data-run, data-value) the JSON's (mxb history show --format
json), the cells marked moved and the summary's rows exactly those that moved by the
check's rule (the median of the WINDOW runs before, past TOL), recomputed here.
Prints what failed; exit 1 on any failure."""
import base64
import io
import json
import math
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from PIL import Image

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.images, self.cells, self.rows = [], [], [], []
        self.scripts, self.external, self.ids, self.anchors, self.links = 0, [], {}, [], []
        self.link_images = 0  # images inside a relative link
        self.cell = None  # [attrs, text] of the td being read
        self.li = None
        self.moved_list = []
        self.in_moved_list = False
        self.pre = None
        self.config = None
        self.section = None
        self.points = []  # (section metric, run, data-value, classes) of a trend page

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            v = a.get(k)
            relative = (tag == "a" and k == "href" and v is not None and not urllib.parse.urlsplit(v).scheme
                        and not v.startswith("/") and not v.startswith("#") and v != "")
            if relative:
                self.links.append(v)
            elif v is not None and not (v.startswith("data:") or v.startswith("#")):
                self.external.append(v)
            if v is not None and v.startswith("#"):
                self.anchors.append(v[1:])
        if "id" in a:
            self.ids[a["id"]] = self.ids.get(a["id"], 0) + 1
        if tag == "img":
            self.images.append(a)
            if "a" in self.stack and self.links:
                self.link_images += 1
        if tag == "td" and "data-metric" in a:
            self.cell = [a, ""]
        if tag == "tr" and "data-metric" in a:
            self.rows.append(a)
        if tag == "ul" and a.get("id") == "moved-list":
            self.in_moved_list = True
        if tag == "li" and self.in_moved_list:
            self.li = ""
        if tag == "pre" and a.get("id") == "config":
            self.pre = ""
        if tag == "section":
            self.section = a.get("data-metric")
        if tag == "td" and "data-run" in a:
            self.points.append((self.section, int(a["data-run"]), a["data-value"], a.get("class", "").split()))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            fail("HTML: </%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
        else:
            self.stack.pop()
        if tag == "td" and self.cell is not None:
            self.cells.append(self.cell)
            self.cell = None
        if tag == "li" and self.li is not None:
            self.moved_list.append(self.li.split(":")[0].strip())
            self.li = None
        if tag == "ul":
            self.in_moved_list = False
        if tag == "pre" and self.pre is not None:
            self.config, self.pre = self.pre, None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data
        if self.li is not None:
            self.li += data
        if self.pre is not None:
            self.pre += data


def parse(path):
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("%s: not UTF-8 (%s)" % (path, e))
        text = raw.decode("utf-8", "replace")
    p = Page()
    p.feed(text)
    p.close()
    if p.stack:
        fail("HTML: elements left open: %s" % p.stack)
    if not text.lstrip().lower().startswith("<!doctype html>"):
        fail("HTML: no doctype")
    if p.scripts:
        fail("HTML: %d script elements" % p.scripts)
    if p.external:
        fail("HTML: references outside the page: %s" % p.external[:3])
    for link in p.links:  # a relative link: to a PNG that exists beside the page
        target = os.path.join(os.path.dirname(os.path.abspath(path)), urllib.parse.unquote(link))
        try:
            Image.open(target).verify()
            if not target.endswith(".png"):
                fail("link %s: not a PNG" % link)
        except Exception as e:
            fail("link %s: %s does not open as an image (%s)" % (link, target, e))
    dangling = [a for a in p.anchors if a not in p.ids]
    if dangling:
        fail("HTML: links to missing ids %s" % dangling)
    dup = [k for k, n in p.ids.items() if n > 1]
    if dup:
        fail("HTML: duplicate ids %s" % dup)
    for im in p.images:
        src = im.get("src", "")
        head, _, data = src.partition(",")
        try:
            blob = base64.b64decode(data, validate=True)
        except Exception as e:
            fail("image %s: bad base64 (%s)" % (im.get("alt"), e))
            continue
        try:
            if head == "data:image/png;base64":
                img = Image.open(io.BytesIO(blob))
                img.load()
                if img.format != "PNG" or min(img.size) < 100:
                    fail("image %s: PNG %s %s" % (im.get("alt"), img.format, img.size))
            elif head == "data:image/svg+xml;base64":
                root = ET.fromstring(blob)
                if root.tag != "{http://www.w3.org/2000/svg}svg":
                    fail("image %s: SVG root is %s" % (im.get("alt"), root.tag))
            else:
                fail("image %s: not an embedded PNG or SVG (%s)" % (im.get("alt"), head[:40]))
        except Exception as e:
            fail("image %s: does not decode (%s)" % (im.get("alt"), e))
    return p


def check_report(page, report):
    p = parse(page)
    metrics = json.load(open(report))["metrics"]
    seen = set()
    for a, text in p.cells:
        name = a["data-metric"]
        if name not in metrics:
            fail("table cell %s: no such metric in the JSON" % name)
            continue
        seen.add(name)
        want = metrics[name]
        if want is None:
            if a.get("data-value") != "null" or text.strip() != "n/a":
                fail("%s: JSON null, page %r %r" % (name, a.get("data-value"), text))
            continue
        got = float(a["data-value"])
        scale = float(a["data-scale"])
        if got != want:
            fail("%s: page %r, JSON %r" % (name, got, want))
        if text.strip() != "%.2f" % (want * scale):
            fail("%s: shows %r, JSON %r x %g" % (name, text, want, scale))
    shown = ("_auc", "_accuracy_", "/pixel_accuracy", "/miou", "/mean_ap")
    missing = [k for k in metrics if any(s in k for s in shown) and k not in seen]
    if missing:
        fail("metrics not in any table: %s" % missing[:5])
    if not p.cells:
        fail("no numbers in the tables")
    print("report page: %d numbers, %d images (%d linked to a full-size file), config %s"
          % (len(p.cells), len(p.images), p.link_images, "present" if p.config else "absent"))
    return p


def moved(x, y, tol, rel):
    """mxb compare's rule; None is NaN (JSON null)."""
    if x is None or y is None:
        return (x is None) != (y is None)
    return abs(y - x) > tol + rel * abs(x)


def check_compare(page, a_json, b_json, tol, rel):
    p = parse(page)
    a = json.load(open(a_json))["metrics"]
    b = json.load(open(b_json))["metrics"]
    want = {k for k in a if k not in b or moved(a[k], b[k], tol, rel)}
    marked = {r["data-metric"] for r in p.rows if "moved" in r.get("class", "").split()}
    rows = {r["data-metric"] for r in p.rows}
    if not set(a) <= rows:
        fail("compare page: metrics without a row: %s" % sorted(set(a) - rows)[:5])
    if marked != want:
        fail("compare page marks %s, moved are %s" % (sorted(marked), sorted(want)))
    if set(p.moved_list) != want:
        fail("compare page lists %s as moved, moved are %s" % (sorted(p.moved_list), sorted(want)))
    print("compare page: %d rows, %d marked moved (expected %d)" % (len(rows), len(marked), len(want)))
    return p


def check_trend(page, show_json, window, tol):
    p = parse(page)
    j = json.load(open(show_json))
    runs = [r["run"] for r in j["runs"]]
    want_moved, want_summary = set(), set()
    got = {(m, r): (v, c) for m, r, v, c in p.points}
    for m in j["metrics"]:
        vals = dict((r, v) for r, v in m["values"])
        series = [(r, vals[r]) for r in runs if r in vals]
        for i, (r, v) in enumerate(series):
            if (m["name"], r) not in got:
                fail("trend page: no value of %s at run %d" % (m["name"], r))
                continue
            dv, cls = got[(m["name"], r)]
            if (v is None and dv != "null") or (v is not None and float(dv) != v):
                fail("trend page: %s run %d: page %s, JSON %r" % (m["name"], r, dv, v))
            before = [x for _, x in series[:i] if x is not None and math.isfinite(x)][-window:]
            if before and v is not None:
                before.sort()
                k = len(before)
                med = before[k // 2] if k % 2 else 0.5 * (before[k // 2 - 1] + before[k // 2])
                if abs(v - med) > tol:
                    want_moved.add((m["name"], r))
                    if r == runs[-1]:
                        want_summary.add(m["name"])
        if len(runs) > 1 and runs[-1] in vals and runs[-2] in vals:
            a, b = vals[runs[-2]], vals[runs[-1]]
            if (a is None) != (b is None) or (a is not None and abs(b - a) > tol):
                want_summary.add(m["name"])
    marked = {(m, r) for m, r, v, c in p.points if "moved" in c}
    if marked != want_moved:
        fail("trend page marks %s, moved are %s" % (sorted(marked)[:6], sorted(want_moved)[:6]))
    summary = {r["data-metric"] for r in p.rows}
    if summary != want_summary:
        fail("trend page's summary lists %s, moved in the last run are %s" % (sorted(summary), sorted(want_summary)))
    pngs = [im for im in p.images if im.get("src", "").startswith("data:image/png;base64,")]
    if len(pngs) != len(j["metrics"]) or not pngs:
        fail("trend page: %d figures for %d metrics" % (len(pngs), len(j["metrics"])))
    print("trend page: %d metrics, %d values, %d marked moved, summary %s" % (len(j["metrics"]), len(p.points),
                                                                            len(marked), sorted(summary)))
    return p


if __name__ == "__main__":
    if sys.argv[1] == "trend":
        check_trend(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif sys.argv[1] == "report":
        page = check_report(sys.argv[2], sys.argv[3])
        if len(sys.argv) > 4 and (page.config is None or sys.argv[4] not in page.config):
            fail("config text %r not shown verbatim" % sys.argv[4])
    else:
        check_compare(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]))
    sys.exit(1 if failures else 0)
