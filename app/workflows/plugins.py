"""Extra services and workflows from modules named in LASTMILE_PLUGINS (comma-separated),
e.g. an installation's own workflows. The engine's tests use it to run test workflows in real
worker processes. A plugin module may define SERVICES = {name: class} and
WORKFLOWS = {name: Workflow}."""
import importlib
import os


def extra(attribute):
    found = {}
    for name in filter(None, os.environ.get("LASTMILE_PLUGINS", "").split(",")):
        found.update(getattr(importlib.import_module(name.strip()), attribute, {}))
    return found
