"""create_subscription, cancel_subscription (issue 4)"""


class SubscriptionsMixin:
    pass
