"""create_from_lead (issue 4)"""


class LeadConversionMixin:
    pass
