"""create_partner_customer, archive_customer (issue 6)"""


class PartnerCustomersMixin:
    pass
