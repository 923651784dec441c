"""Offline checks of Kubernetes manifests, for tests/kubernetes.rs.

    k8s.py validate VERSION... -- FILE...   every document against the schemas of each
                                            Kubernetes VERSION (kubernetes-validate, strict:
                                            unknown fields are errors); prometheus-operator
                                            kinds against its CRD models (cloudcoil)
    k8s.py json FILE                        the file's documents as one JSON list

Both read stdin for FILE "-". Exit status 1 with one line per problem.
"""
import json
import sys

import yaml


def load(path):
    text = sys.stdin.read() if path == "-" else open(path).read()
    return [d for d in yaml.safe_load_all(text) if d is not None]


def unread(given, read, path=""):
    """Where `read` (the model's dump) lost or changed what `given` had."""
    if isinstance(given, dict) and isinstance(read, dict):
        for k, v in given.items():
            if k not in read:
                yield f"{path}.{k}: unknown field"
            else:
                yield from unread(v, read[k], f"{path}.{k}")
    elif isinstance(given, list) and isinstance(read, list) and len(given) == len(read):
        for i, (a, b) in enumerate(zip(given, read)):
            yield from unread(a, b, f"{path}[{i}]")
    elif given != read:
        yield f"{path}: {given!r} read as {read!r}"


def operator_problems(doc):
    # pydantic models generated from the CRDs: types, enums and patterns are checked on
    # validation; unknown fields are dropped silently, so the round trip finds them.
    from cloudcoil.models.prometheus_operator import v1

    model = getattr(v1, doc["kind"], None)
    if model is None:
        return [f"no prometheus-operator model for kind {doc['kind']}"]
    try:
        m = model.model_validate(doc)
    except Exception as e:  # pydantic.ValidationError, with every failing field
        return [str(e)]
    return list(unread(doc, m.model_dump(mode="json", by_alias=True, exclude_unset=True)))


def core_problems(doc, version):
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, version, strict=True)
        return []
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.path)
        return [f"{where}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [e.message]


def main(argv):
    if argv[:1] == ["json"] and len(argv) == 2:
        json.dump(load(argv[1]), sys.stdout)
        return 0
    if argv[:1] != ["validate"] or "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    sep = argv.index("--")
    versions, files = argv[1:sep], argv[sep + 1:]
    problems = []
    for path in files:
        for doc in load(path):
            name = f"{path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            if doc.get("apiVersion", "").startswith("monitoring.coreos.com/"):
                problems += [f"{name}: {p}" for p in operator_problems(doc)]
            else:
                for v in versions:
                    problems += [f"{name} (Kubernetes {v}): {p}" for p in core_problems(doc, v)]
            print(f"{name}: checked")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
