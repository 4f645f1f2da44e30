"""create_ticket (issue 4)"""


class TicketsMixin:
    pass
