"""provision_tenant, deprovision_tenant, schedule_deployment, cancel_deployment_schedule (issue 4)"""


class TenantsMixin:
    pass
