"""Tenant provisioning backends, chosen by PROVISIONING_BACKEND: `local` (the platform serves
the tenant's landing page at /t/<slug>) or `webhook` (an external provisioner)."""
from app.integrations.provisioning import local, webhook

BACKENDS = {"local": local, "webhook": webhook}


def get_backend(name):
    return BACKENDS[name]
