#!/usr/bin/env python3
"""Reports every function in the given C++ files whose body is longer than a limit (default 80 lines).

A function is a brace block opened at namespace or class scope right after a parameter list (with an
optional const/noexcept/override/initializer list). Strings, characters and comments are skipped. Lines are
counted from the signature's opening brace to the closing one, both included. Exit status 1 if any is longer.

usage: scripts/check-function-length.py [--max N] FILE...
"""
import re
import sys


def strip(text):
    """Blanks out comments, strings and character literals, keeping newlines (so line numbers hold)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = ')' + m.group(1) + '"'
            j = text.find(end, i) + len(end)
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(' ' * (j + 1 - i)); i = j + 1
        else:
            out.append(c); i += 1
    return ''.join(out)


def functions(path):
    text = strip(open(path, encoding='utf-8').read())
    stack = []  # for each open brace: (kind, line, name)
    line = 1
    for i, c in enumerate(text):
        if c == '\n':
            line += 1
        elif c == '{':
            head = text[max(0, i - 400):i]
            head = head[head.rfind(';') + 1:]
            head = head[head.rfind('}') + 1:]
            scope_ok = all(k in ('namespace', 'class') for k, _, _ in stack)
            if re.search(r'\b(namespace|class|struct|enum|union)\b[^()]*$', head):
                stack.append(('class' if 'namespace' not in head else 'namespace', line, ''))
            elif scope_ok and re.search(r'\)\s*(const|noexcept|override|final|mutable|\s|->\s*[\w:<>,\s*&]+|:\s*[\w:]+\s*[({][^;]*?[)}]\s*,?\s*)*$', head, re.S):
                m = re.search(r'([\w:~]+)\s*\(', head)
                stack.append(('function', line, m.group(1) if m else '?'))
            else:
                stack.append(('block', line, ''))
        elif c == '}':
            if not stack:
                continue
            kind, start, name = stack.pop()
            if kind == 'function':
                yield name, start, line - start + 1


def main():
    args = sys.argv[1:]
    limit = 80
    if args[:1] == ['--max']:
        limit, args = int(args[1]), args[2:]
    bad = 0
    for path in args:
        for name, start, length in functions(path):
            if length > limit:
                print(f'{path}:{start}: {name} is {length} lines (limit {limit})')
                bad += 1
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
