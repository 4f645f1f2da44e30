"""${ctx.x} / ${steps.s.k} / ${run.id} resolution, also inside longer strings, dicts, lists."""
import re

TEMPLATE = re.compile(r"\$\{([a-z_]+)\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?\}")


def references(value):
    """Every (root, name, key) a value refers to, for the start-up validator."""
    if isinstance(value, str):
        return TEMPLATE.findall(value)
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in references(item)]
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in references(item)]
    return []


def resolve(value, scope):
    """`scope` is {"ctx": {...}, "steps": {name: result}, "run": {"id": 7}}. A string that is
    exactly one template keeps the referenced value's type; otherwise it is interpolated."""
    if isinstance(value, str):
        whole = TEMPLATE.fullmatch(value)
        if whole:
            return _lookup(scope, *whole.groups())
        return TEMPLATE.sub(lambda m: _text(_lookup(scope, *m.groups())), value)
    if isinstance(value, dict):
        return {key: resolve(item, scope) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(item, scope) for item in value]
    return value


def _lookup(scope, root, name, key):
    found = scope.get(root, {}).get(name)
    if key:
        found = (found or {}).get(key)
    return found


def _text(value):
    return "" if value is None else str(value)


def condition_holds(condition, scope):
    """`when` conditions: (left, "==" | "!=", right), each side resolved as a template."""
    left, operator, right = condition
    left, right = resolve(left, scope), resolve(right, scope)
    if operator == "==":
        return left == right
    if operator == "!=":
        return left != right
    raise ValueError(f"unknown operator {operator!r}")
