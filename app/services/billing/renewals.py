"""check_renewal_eligibility, process_renewal_payment, extend_subscription (issue 5)"""


class RenewalsMixin:
    pass
