"""allocate_from_partner, return_to_partner_pool (issue 6)"""


class PartnerPoolMixin:
    pass
