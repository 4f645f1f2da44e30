"""Start-up validation of workflow definitions: each mistake is named with workflow and step."""
import pytest

from app.workflows.definition import Call, Input, Step, Wait, Workflow
from app.workflows.validate import DefinitionError, validate


def workflow(*steps, inputs=(Input("greeting", "str"),)):
    return Workflow("broken", 1, "Broken", inputs=inputs, steps=steps)


def record(name, **params):
    return Step(name, "enginetest.record", {"label": name, **params}, returns=("label", "value"))


def check(definition, message, app):
    with app.app_context(), pytest.raises(DefinitionError) as failed:
        validate(definition)
    assert message in str(failed.value)
    assert "broken" in str(failed.value)


def test_the_built_in_workflows_are_valid(app):
    from app.workflows.definitions import WORKFLOWS
    with app.app_context():
        for definition in WORKFLOWS.values():
            validate(definition)


def test_a_workflow_of_no_steps(app):
    check(workflow(), "at least one step", app)


def test_undeclared_input(app):
    check(workflow(record("a", value="${ctx.nope}")), "step a: ${ctx.nope}", app)


def test_key_an_earlier_step_does_not_return(app):
    check(workflow(record("a"), record("b", value="${steps.a.missing}")),
          "step b: ${steps.a.missing}", app)


def test_reference_to_a_later_step(app):
    check(workflow(record("a", value="${steps.b.label}"), record("b")),
          "step a: ${steps.b.label}", app)


def test_reference_inside_a_longer_string_is_checked(app):
    check(workflow(record("a", value="Hello ${ctx.name}!")), "${ctx.name}", app)


def test_unknown_service_and_method(app):
    check(workflow(Step("a", "nosuch.thing", {}, returns=())), "unknown service 'nosuch'", app)
    check(workflow(Step("a", "enginetest.nothing", {}, returns=())), "no method 'nothing'", app)


def test_parameter_mismatch(app):
    check(workflow(Step("a", "enginetest.record", {"lable": "x"}, returns=())),
          "takes no parameter lable", app)
    check(workflow(Step("a", "enginetest.flaky", {"label": "x"}, returns=())),
          "needs succeed_on", app)


def test_compensation_and_wait_calls_are_checked(app):
    check(workflow(Step("a", "enginetest.record", {"label": "x"}, returns=(),
                        compensate=Call("enginetest.record", {"nope": 1}))),
          "step a (compensation)", app)
    check(workflow(Wait("w", signal="go", deadline="${ctx.when}")), "step w: ${ctx.when}", app)


def test_a_broken_definition_stops_the_app(monkeypatch):
    from app import create_app
    from app.workflows import definitions
    broken = workflow(record("a", value="${ctx.nope}"))
    monkeypatch.setitem(definitions.WORKFLOWS, "broken", broken)
    with pytest.raises(DefinitionError, match="broken, step a"):
        create_app()
