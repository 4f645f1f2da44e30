"""accept_quote (issue 4)"""


class QuotesMixin:
    pass
