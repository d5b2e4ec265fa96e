#!/usr/bin/python3
"""Runs every test tier and prints one closing line: N passed, N failed[, N skipped].

Tiers: unit (GLib g_test programs, TAP; each test case counts), functional
(pytest through meson; each pytest case counts, read from its JUnit XML) and
fuzz (each libFuzzer target run for a short time counts once).  Exits non-zero
if anything failed or if no test ran at all.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET


def meson_test(build, suites):
    cmd = ['meson', 'test', '-C', build, '--print-errorlogs',
           '--num-processes', str(os.cpu_count() or 2)]
    for s in suites:
        cmd += ['--suite', s]
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd)
    log = os.path.join(build, 'meson-logs', 'testlog.json')
    results = []
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                line = line.strip()
                if line:
                    results.append(json.loads(line))
    return results


TAP_RE = re.compile(r'^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b.*)?', re.I)


def count_tap(stdout):
    p = f = s = 0
    for line in stdout.splitlines():
        m = TAP_RE.match(line.strip())
        if not m:
            continue
        if m.group(3) and m.group(3).upper() == 'SKIP':
            s += 1
        elif m.group(1) == 'ok':
            p += 1
        else:
            f += 1
    return p, f, s


def count_junit(path):
    p = f = s = 0
    root = ET.parse(path).getroot()
    for case in root.iter('testcase'):
        if case.find('failure') is not None or case.find('error') is not None:
            f += 1
        elif case.find('skipped') is not None:
            s += 1
        else:
            p += 1
    return p, f, s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default='build')
    ap.add_argument('--fuzz-build', default='build-fuzz')
    args = ap.parse_args()

    passed = failed = skipped = 0
    failures = []

    junit = os.path.join(args.build, 'functional-junit.xml')
    if os.path.exists(junit):
        os.unlink(junit)

    runs = [(args.build, ['unit', 'functional']), (args.fuzz_build, ['fuzz'])]
    for build, suites in runs:
        for r in meson_test(build, suites):
            name = r.get('name', '?')
            res = r.get('result', 'FAIL')
            # meson names tests "project:suite / name"
            suite = name.split(' / ')[0]
            if suite.endswith(':functional'):
                # Counted per pytest case below; a crash of pytest itself
                # (no XML) counts as one failure.
                if res not in ('OK', 'SKIP') and not os.path.exists(junit):
                    failed += 1
                    failures.append(name)
                continue
            if res == 'SKIP':
                skipped += 1
                continue
            p, f, s = count_tap(r.get('stdout') or '')
            if p + f + s == 0:
                p = 1 if res == 'OK' else 0
            if res != 'OK' and f == 0:
                f = 1   # crashed or timed out after its last TAP line
            passed += p
            failed += f
            skipped += s
            if f:
                failures.append(name)

    if os.path.exists(junit):
        p, f, s = count_junit(junit)
        passed += p
        failed += f
        skipped += s
        if f:
            failures.append('functional (see %s)' % junit)

    if failures:
        print('failed: ' + ', '.join(failures))
    line = '%d passed, %d failed' % (passed, failed)
    if skipped:
        line += ', %d skipped' % skipped
    print(line)
    return 1 if failed or passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
