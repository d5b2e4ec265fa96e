#!/usr/bin/python3
"""Checks that layers depend one way only (docs/architecture.rst).

util <- monitor <- block <- emu <- migration <- tools: a file of one layer may
include public headers (include/qx/<layer>/) of its own layer and the layers
below, never above; tools never include a subsystem's private headers (the
lib/ tree).  Prints TAP.
"""
import os
import re
import sys

ORDER = ['util', 'monitor', 'block', 'emu', 'migration']
INC_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    parts = rel.split('/')
    if parts[0] == 'lib':
        return parts[1] if len(parts) > 2 and parts[1] in ORDER else 'util'
    if parts[0] == 'include' and len(parts) > 2 and parts[1] == 'qx':
        return parts[2] if parts[2] in ORDER else None
    if parts[0] == 'tools':
        return 'tools'
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '.'
    problems = []
    checked = 0
    for top in ('lib', 'include', 'tools'):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith(('.c', '.h')):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                layer = layer_of(rel)
                if layer is None:
                    continue
                checked += 1
                with open(path, errors='replace') as f:
                    for lineno, line in enumerate(f, 1):
                        m = INC_RE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        if layer == 'tools':
                            if 'internal.h' in target or target.startswith('lib/'):
                                problems.append('%s:%d: tool includes private header %s'
                                                % (rel, lineno, target))
                            continue
                        tm = re.match(r'qx/([a-z]+)/', target)
                        if not tm or tm.group(1) not in ORDER:
                            continue
                        if ORDER.index(tm.group(1)) > ORDER.index(layer):
                            problems.append('%s:%d: layer %s includes higher layer header %s'
                                            % (rel, lineno, layer, target))
    print('1..2')
    print('%s 1 - scanned %d source files' % ('ok' if checked else 'not ok', checked))
    if problems:
        print('not ok 2 - layering violations')
        for p in problems:
            print('# ' + p)
        return 1
    print('ok 2 - no layering violations')
    return 0 if checked else 1


if __name__ == '__main__':
    sys.exit(main())
