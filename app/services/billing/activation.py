"""activate_service (issue 7)"""


class ActivationMixin:
    pass
