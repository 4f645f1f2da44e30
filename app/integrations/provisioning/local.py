"""The built-in backend: the tenant is served by this platform at /t/<slug>, live at once."""


def provision(config, tenant):
    return {"status": "active", "url": f"{config['PUBLIC_BASE_URL'].rstrip('/')}/t/{tenant.slug}",
            "external_id": None}


def check(config, tenant):
    return {"status": tenant.status}


def deprovision(config, tenant):
    return None
