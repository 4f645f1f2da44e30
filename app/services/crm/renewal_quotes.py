"""create_renewal_quote, expire_quote, decline_quote (issue 5)"""


class RenewalQuotesMixin:
    pass
