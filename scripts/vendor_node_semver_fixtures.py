#!/usr/bin/env python3
"""Convert node-semver's test fixtures to JSON under tests/data/node-semver/.

    python3 scripts/vendor_node_semver_fixtures.py /path/to/node-semver [COMMIT]

The first argument is a checkout (or extracted archive) of npm/node-semver;
``node`` must be on PATH.  Each ``test/fixtures/<name>.js`` is loaded with
``require`` and written as ``<name>.json``, options normalised the way
node-semver's ``parseOptions`` reads them (``true`` or any non-object means
``{loose: true}``; an object contributes only truthy ``loose`` and
``includePrerelease``).  Values that are not strings (a RegExp, an object with
``toString``) become ``{"js_type": ..., "text": String(value)}``.

``oracle.json`` is computed by running that checkout's own ``satisfies`` and
``maxSatisfying`` over every strict range of the range fixtures against every
version string the fixtures mention: the expected answers for cfgc's
max-satisfying selection.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "node-semver"
EXTRA_RANGES = ["<=1.2", "<=0.7.x", ">1", ">1.2", "^1.0.0-alpha", "<2.0.0-rc.2", "1.2.3 - 2.3.4", "~>1.2",
                "v1.2.3", "1.2.3+build", "^1.2.3+build.7", "", "||", "^1 ||", "1.x.5", "x.1", ">01.02.03",
                "^0.0.1-rc.1", "~1.2.3-beta.2", ">=1.2.3-alpha <1.2.4", "1.2.3-alpha.1 - 1.2.5",
                "<=1.2.3-rc.1", "^1.2.3-rc.1 || 2.0.0-rc.1"]
EXTRA_VERSIONS = ["1.2.3", "0.7.2", "1.0.1", "1.2.8", "1.2.3-beta", "1.0.0-alpha", "1.0.0-beta",
                  "2.0.0-rc.1", "2.0.0-rc.2", "0.0.1-rc.2", "0.0.2-rc.1", "1.2.3-beta.3", "1.2.3-alpha.2",
                  "1.2.4-alpha.1", "1.2.5-beta", "2.3.4", "2.3.5-0", "1.2.3-rc.0", "1.2.3-rc.1"]
FIXTURES = ["range-include", "range-exclude", "range-parse", "comparisons", "equality",
            "valid-versions", "invalid-versions",
            # [range, version] pairs for gtr/ltr, which cfgc does not have: their ranges and
            # versions widen the oracle, and a version above or below a range never satisfies it.
            "version-gt-range", "version-lt-range", "version-not-gt-range", "version-not-lt-range"]
_PAIRS = FIXTURES[:2] + FIXTURES[7:]  # the fixtures whose rows are [range, version, options]

_JS = r"""
const path = require('path')
const root = path.resolve(process.argv[1])
const opts = o => {
  if (!o) return {}
  if (typeof o !== 'object') return { loose: true }
  const out = {}
  if (o.loose) out.loose = true
  if (o.includePrerelease) out.includePrerelease = true
  return out
}
const val = v => typeof v === 'string' || typeof v === 'number' || v === null || Array.isArray(v)
  ? v : { js_type: v instanceof RegExp ? 'regexp' : typeof v, text: String(v) }
const out = {}
for (const name of JSON.parse(process.argv[2])) {
  const rows = require(path.join(root, 'test', 'fixtures', name + '.js'))
  // The options (or loose flag) sit at index 2 everywhere except the version lists.
  const optAt = name === 'valid-versions' ? -1 : 2
  out[name] = rows.map(r => r.map((v, i) => i === optAt ? opts(v) : val(v)))
  if (optAt === 2) out[name].forEach(r => { if (r.length < 3) r.push({}) })
}
const satisfies = require(path.join(root, 'functions', 'satisfies'))
const maxSatisfying = require(path.join(root, 'ranges', 'max-satisfying'))
const valid = require(path.join(root, 'functions', 'valid'))
const Range = require(path.join(root, 'classes', 'range'))
const strict = r => !r[2].loose
const ranges = new Map()
const pairs = JSON.parse(process.argv[5])
for (const name of [...pairs.slice(0, 2), 'range-parse', ...pairs.slice(2)]) {
  for (const r of out[name].filter(strict)) {
    ranges.set(JSON.stringify([r[0], !!r[2].includePrerelease]), r)
  }
}
// cfgc issue 13: ranges cfgc used to get wrong, checked against the same oracle.
for (const r of JSON.parse(process.argv[3])) ranges.set(JSON.stringify([r, false]), [r, null, {}])
const versions = new Set(JSON.parse(process.argv[4]))
for (const name of pairs) {
  for (const r of out[name]) if (typeof r[1] === 'string' && valid(r[1])) versions.add(r[1])
}
for (const name of ['comparisons', 'equality']) {
  for (const r of out[name]) for (const v of r.slice(0, 2)) if (valid(v)) versions.add(v)
}
const pool = [...versions].sort()
const isValid = (r, o) => { try { new Range(r, o); return true } catch (e) { return false } }
out.oracle = { versions: pool, cases: [...ranges.values()].map(([range, , o]) => ({
  range, options: o, valid: isValid(range, o),
  satisfying: pool.map((v, i) => satisfies(v, range, o) ? i : -1).filter(i => i >= 0),
  max: maxSatisfying(pool, range, o),
})) }
process.stdout.write(JSON.stringify(out))
"""


def main(argv: list[str]) -> int:
    """Write the JSON files and README's commit line; returns the exit code."""
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(argv[1])
    data = json.loads(subprocess.run(["node", "-e", _JS, str(src), json.dumps(FIXTURES),
                                      json.dumps(EXTRA_RANGES), json.dumps(EXTRA_VERSIONS), json.dumps(_PAIRS)],
                                     check=True, capture_output=True, text=True).stdout)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rows in data.items():
        (OUT / f"{name}.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    (OUT / "LICENSE").write_bytes((src / "LICENSE").read_bytes())
    version = json.loads((src / "package.json").read_text(encoding="utf-8"))["version"]
    print(f"wrote {len(data)} files from node-semver {version} {argv[2] if len(argv) == 3 else ''}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
