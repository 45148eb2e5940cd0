#!/usr/bin/env python3
"""Applies the JSON Patch of an AdmissionReview answer to a pod and checks the
result equals the expected pod. RFC 6902 (add, remove, replace, and the other
three for completeness) over RFC 6901 pointers, written from the RFCs and
independent of ward's code.

usage: jsonpatch.py ANSWER.json POD.json EXPECTED.json"""
import base64
import copy
import json
import sys


def tokens(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError("pointer %r does not start with /" % pointer)
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def parent(doc, pointer):
    toks = tokens(pointer)
    node = doc
    for t in toks[:-1]:
        node = node[int(t)] if isinstance(node, list) else node[t]
    return node, toks[-1]


def index(node, tok, allow_end):
    if tok == "-" and allow_end:
        return len(node)
    if not tok.isdigit() or (tok != "0" and tok.startswith("0")):
        raise ValueError("bad array index %r" % tok)
    i = int(tok)
    if i > len(node) or (i == len(node) and not allow_end):
        raise IndexError("index %d out of range" % i)
    return i


def get(doc, pointer):
    node = doc
    for t in tokens(pointer):
        node = node[index(node, t, False)] if isinstance(node, list) else node[t]
    return node


def apply(doc, ops):
    for op in ops:
        kind, path = op["op"], op["path"]
        if path == "":
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op["value"])
                continue
            raise ValueError("cannot %s the root" % kind)
        if kind == "move" or kind == "copy":
            value = copy.deepcopy(get(doc, op["from"]))
            if kind == "move":
                doc = apply(doc, [{"op": "remove", "path": op["from"]}])
            doc = apply(doc, [{"op": "add", "path": path, "value": value}])
            continue
        if kind == "test":
            if get(doc, path) != op["value"]:
                raise ValueError("test failed at %s" % path)
            continue
        node, tok = parent(doc, path)
        if isinstance(node, list):
            i = index(node, tok, kind == "add")
            if kind == "add":
                node.insert(i, copy.deepcopy(op["value"]))
            elif kind == "remove":
                del node[i]
            elif kind == "replace":
                node[i] = copy.deepcopy(op["value"])
            else:
                raise ValueError("unknown op %r" % kind)
        else:
            if kind in ("remove", "replace") and tok not in node:
                raise KeyError("%s: no member %r" % (kind, tok))
            if kind == "add" or kind == "replace":
                node[tok] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del node[tok]
            else:
                raise ValueError("unknown op %r" % kind)
    return doc


def main():
    answer = json.load(open(sys.argv[1]))["response"]
    pod = json.load(open(sys.argv[2]))
    want = json.load(open(sys.argv[3]))
    if answer.get("patchType") != "JSONPatch" or answer.get("allowed") is not True:
        sys.exit("answer is not an allowed JSONPatch: %r" % answer)
    ops = json.loads(base64.b64decode(answer["patch"], validate=True))
    got = apply(copy.deepcopy(pod), ops)
    if got != want:
        print("patched pod differs from ward inject's:", file=sys.stderr)
        print(json.dumps(got, indent=1, sort_keys=True)[:3000], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
