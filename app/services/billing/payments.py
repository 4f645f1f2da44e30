"""process_payment, refund_payment (issue 4)"""


class PaymentsMixin:
    pass
