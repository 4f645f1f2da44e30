"""Static check of every definition at start-up: a bad definition stops the app with a message
naming the workflow and the step, instead of failing a customer's run halfway."""
import inspect

from app.workflows.templating import references


class DefinitionError(Exception):
    pass


def validate_all():
    from app.workflows.definitions import all_workflows
    for workflow in all_workflows().values():
        validate(workflow)


def validate(workflow):
    from app.workflows.registry import all_services
    services = all_services()
    inputs = {spec.name for spec in workflow.inputs}
    returned = {}  # step name -> keys it declares, for the steps seen so far
    names = [step.name for step in workflow.steps]
    if not names:
        raise DefinitionError(f"{workflow.name}: a workflow needs at least one step")
    if len(names) != len(set(names)):
        raise DefinitionError(f"{workflow.name}: two steps share a name")
    if workflow.subject:
        _check_refs(f"{workflow.name}, subject", workflow.subject, inputs, {}, run_id=False)
    for step in workflow.steps:
        where = f"{workflow.name}, step {step.name}"
        if step.kind == "wait":
            _check_refs(where, [step.deadline], inputs, returned)
            if step.check:
                _check_call(f"{where} (signal check)", step.check.operation,
                            step.check.params, services, inputs, returned,
                            signal={field.name for field in step.payload})
            if step.when:
                _check_refs(where, [step.when[0], step.when[2]], inputs, returned)
            calls = [step.on_timeout] + [end.get("call") for end in step.end_signals.values()]
            for call in filter(None, calls):
                _check_call(where, call.operation, call.params, services, inputs, returned)
        else:
            _check_call(where, step.operation, step.params, services, inputs, returned)
            if step.when:
                _check_refs(where, [step.when[0], step.when[2]], inputs, returned)
            if step.rewind_to and step.rewind_to not in returned:
                raise DefinitionError(f"{where}: rewind_to names {step.rewind_to!r}, which is "
                                      "not an earlier step")
        returned[step.name] = set(step.returns)
        if getattr(step, "compensate", None):
            _check_call(f"{where} (compensation)", step.compensate.operation,
                        step.compensate.params, services, inputs, returned)


def _check_call(where, operation, params, services, inputs, returned, signal=()):
    service_name, _, method_name = operation.partition(".")
    service = services.get(service_name)
    if service is None:
        raise DefinitionError(f"{where}: unknown service {service_name!r}")
    method = getattr(service, method_name, None)
    if not callable(method):
        raise DefinitionError(f"{where}: {service_name} has no method {method_name!r}")
    signature = inspect.signature(method)
    accepted = {name for name, p in signature.parameters.items()
                if name not in ("self", "idempotency_key")
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    required = {name for name in accepted
                if signature.parameters[name].default is inspect.Parameter.empty}
    if "idempotency_key" not in signature.parameters:
        raise DefinitionError(f"{where}: {operation} does not take an idempotency_key")
    unknown, missing = set(params) - accepted, required - set(params)
    if unknown:
        raise DefinitionError(f"{where}: {operation} takes no parameter "
                              f"{', '.join(sorted(unknown))}")
    if missing:
        raise DefinitionError(f"{where}: {operation} needs {', '.join(sorted(missing))}")
    _check_refs(where, params, inputs, returned, signal=signal)


def _check_refs(where, value, inputs, returned, signal=(), run_id=True):
    """Every ${...} in `value` names an input (a dict input's key too), the run's id, a key
    an earlier step returns or, in a signal's check, a field of the signal."""
    for root, name, key in references(value):
        if root == "ctx" and name in inputs:
            continue
        if root == "run" and name == "id" and not key and run_id:
            continue
        if root == "signal" and name in signal and not key:
            continue
        if root == "steps" and name in returned and key in returned[name]:
            continue
        reference = "${" + ".".join(filter(None, (root, name, key))) + "}"
        raise DefinitionError(f"{where}: {reference} is not a declared input or a result "
                              "of an earlier step")
