"""${ctx.x} / ${steps.s.k} / ${run.id} resolution and `when` conditions."""
import pytest

from app.workflows.templating import condition_holds, references, resolve

SCOPE = {"ctx": {"quote_id": 5, "note": "hello", "flag": True, "missing": None},
         "steps": {"create": {"order_id": 42, "lines": [1, 2], "total": "19.90"}},
         "run": {"id": 7}}


def test_a_whole_template_keeps_the_type():
    assert resolve("${ctx.quote_id}", SCOPE) == 5
    assert resolve("${ctx.flag}", SCOPE) is True
    assert resolve("${steps.create.lines}", SCOPE) == [1, 2]
    assert resolve("${run.id}", SCOPE) == 7


def test_a_template_inside_a_longer_string_is_interpolated():
    assert resolve("Order ${steps.create.order_id} for quote ${ctx.quote_id}", SCOPE) == \
        "Order 42 for quote 5"
    assert resolve("run${run.id}:x", SCOPE) == "run7:x"
    assert resolve("[${ctx.missing}]", SCOPE) == "[]"


def test_dicts_and_lists_are_resolved_recursively_and_other_values_pass_through():
    value = {"a": ["${ctx.note}", {"b": "${steps.create.total}"}], "n": 3, "none": None,
             "plain": "no template here"}
    assert resolve(value, SCOPE) == {"a": ["hello", {"b": "19.90"}], "n": 3, "none": None,
                                     "plain": "no template here"}


def test_an_unknown_reference_resolves_to_none():
    assert resolve("${steps.later.key}", SCOPE) is None
    assert resolve("${ctx.nope}", SCOPE) is None


def test_references_are_listed_for_the_validator():
    refs = references({"x": "${ctx.a} and ${steps.s.k}", "y": ["${run.id}"], "z": 1})
    assert sorted(refs) == [("ctx", "a", ""), ("run", "id", ""), ("steps", "s", "k")]


@pytest.mark.parametrize("condition, expected", [
    (("${ctx.note}", "==", "hello"), True),
    (("${ctx.note}", "!=", "hello"), False),
    (("${steps.create.order_id}", "==", 42), True),
    (("${ctx.flag}", "!=", False), True),
    (("${ctx.missing}", "==", None), True),
])
def test_when_conditions(condition, expected):
    assert condition_holds(condition, SCOPE) is expected


def test_an_unknown_operator_is_refused():
    with pytest.raises(ValueError):
        condition_holds(("${ctx.note}", "<", "x"), SCOPE)
