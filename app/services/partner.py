"""The partner service: the license quota check, and the commission ledger.

Commission amounts, when not given, follow the partner's model:
- percent: `commission_rate` % of the first term's value;
- flat:    `commission_rate` (a money amount) per new customer;
- tiered:  a percent of the first term's value, the rate of the highest tier in
           `commission_tiers` whose `min_customers` is <= the number of the partner's new
           customers this calendar month, this one included.
The first term's value = the customer's partner licenses x the monthly price of the
partner's plan (`Partner.plan`) x 12 months.

Balances are sums over the ledger by status; nothing keeps a running total that could drift.
"""
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, update

from app.errors import Conflict, DomainError, NotFound, ValidationError
from app.models import CommissionEntry, Customer, License, Partner, utcnow
from app.models.partners import COMMISSION_STATUSES, COMMISSION_TYPES
from app.services.base import Service

FIRST_TERM_MONTHS = 12
CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}
CENT = Decimal("0.01")


def pool_message(requested, remaining):
    """The one wording of "not enough licenses", shared by the check and the allocation."""
    left = f"{remaining} license{'s' if remaining != 1 else ''} left"
    return (f"Not enough licenses in your pool: {requested} requested, only {left}. "
            "Ask Lastmile to raise your pool, or request fewer licenses.")


def inactive_message(partner):
    return (f"The partner account {partner.company} is {partner.status}: it cannot "
            "provision customers until Lastmile activates it.")


def setup_problem(partner):
    """What stops this partner from provisioning, in words, or None. Checked before anything
    is created, so a misconfigured partner fails at the first step and not after the tenant."""
    if partner.status != "active":
        return inactive_message(partner)
    if partner.license_template_id is None:
        return (f"No license product is set for {partner.company}; Lastmile staff must "
                "choose one before customers can be provisioned.")
    if partner.commission_model in ("percent", "tiered") and partner.plan_id is None:
        return (f"No plan price is set for {partner.company}, so the commission cannot be "
                "computed; Lastmile staff must set the partner's plan.")
    return None


class PartnerService(Service):
    name = "partner"

    # --- workflow steps --------------------------------------------------------------------

    def check_license_quota(self, partner_id, requested_licenses, *, idempotency_key=None):
        def produce():
            requested = _positive_int(requested_licenses, "requested_licenses")
            partner = self._partner(partner_id)
            if partner.status != "active":
                raise DomainError(inactive_message(partner))
            remaining = partner.license_quota - partner.licenses_used
            if requested > remaining:
                raise DomainError(pool_message(requested, remaining), code="quota_exceeded")
            problem = setup_problem(partner)
            if problem:
                raise DomainError(problem)
            return {"available": True, "quota_remaining": remaining,
                    "partner_email": partner.contact_email,
                    "partner_name": partner.brand_name or partner.company}
        return self.once(idempotency_key, "partner.check_license_quota", produce)

    def record_commission(self, partner_id, customer_id, commission_type, amount=None, *,
                          idempotency_key=None):
        def produce():
            if commission_type not in COMMISSION_TYPES:
                raise ValidationError("Unknown commission type.", details={
                    "commission_type": f"Use one of: {', '.join(COMMISSION_TYPES)}."})
            partner = self._partner(partner_id)
            customer = self.session.get(Customer, customer_id)
            if customer is None or customer.partner_id != partner.id:
                raise NotFound(f"Customer {customer_id} is not a customer of this partner.")
            if commission_type == "new_customer" and self._has_new_customer_entry(customer.id):
                raise Conflict(f"{customer.name} already has a new-customer commission.")
            base, rate, value = self._commission_for(partner, customer, amount)
            entry = CommissionEntry(partner_id=partner.id, customer_id=customer.id,
                                    type=commission_type, base_amount=base, rate=rate,
                                    amount=value, currency=self._currency(partner),
                                    status="pending", created_by_key=idempotency_key)
            self.session.add(entry)
            self.session.flush()
            return {"commission_id": entry.id, "amount": str(value)}
        return self.once(idempotency_key, "partner.record_commission", produce)

    def void_commission(self, commission_id, *, idempotency_key=None):
        """Compensation of record_commission. A paid entry cannot be voided: money went out,
        so a person has to settle it."""
        def produce():
            entry = self._entry(commission_id)
            if entry.status == "paid":
                raise DomainError(f"Commission {entry.id} is already paid; it cannot be "
                                  "voided. Record a correcting entry instead.")
            entry.status = "void"
            return {"commission_id": entry.id, "status": "void"}
        return self.once(idempotency_key, "partner.void_commission", produce)

    # --- finance ---------------------------------------------------------------------------

    def approve_commissions(self, commission_ids):
        """pending -> approved. Returns how many changed; entries in another status stay."""
        ids = [int(i) for i in commission_ids]
        result = self.session.execute(
            update(CommissionEntry)
            .where(CommissionEntry.id.in_(ids), CommissionEntry.status == "pending")
            .values(status="approved", approved_at=utcnow(), updated_at=utcnow()))
        self.session.commit()
        return result.rowcount

    def record_payout(self, commission_ids, payout_reference):
        """approved -> paid, with the payout's reference (bank transfer id, ...)."""
        reference = (payout_reference or "").strip()
        if not reference or len(reference) > 100:
            raise ValidationError("Enter the payout reference.", details={
                "payout_reference": "Enter the payout reference (100 characters at most)."})
        ids = [int(i) for i in commission_ids]
        result = self.session.execute(
            update(CommissionEntry)
            .where(CommissionEntry.id.in_(ids), CommissionEntry.status == "approved")
            .values(status="paid", paid_at=utcnow(), payout_reference=reference,
                    updated_at=utcnow()))
        self.session.commit()
        return result.rowcount

    def commission_balances(self, partner_id=None):
        """{status: Decimal total} over the ledger (every status present, zero when none)."""
        query = select(CommissionEntry.status, func.coalesce(func.sum(CommissionEntry.amount), 0))
        if partner_id is not None:
            query = query.where(CommissionEntry.partner_id == partner_id)
        totals = dict(self.session.execute(query.group_by(CommissionEntry.status)).all())
        return {status: Decimal(totals.get(status, 0)).quantize(CENT)
                for status in COMMISSION_STATUSES}

    # --- commission arithmetic -------------------------------------------------------------

    def first_term_value(self, partner, customer):
        """licenses x plan's monthly price x 12. None when the partner has no plan."""
        plan = partner.plan
        if plan is None:
            return None
        licenses = self.session.execute(
            select(func.count(License.id)).where(
                License.customer_id == customer.id, License.partner_id == partner.id,
                License.status != "revoked")).scalar()
        monthly = Decimal(plan.price) / CYCLE_MONTHS.get(plan.billing_cycle, 1)
        return (monthly * licenses * FIRST_TERM_MONTHS).quantize(CENT)

    def _commission_for(self, partner, customer, amount):
        """(base_amount, rate, amount) of a new entry."""
        if amount not in (None, ""):
            value = _money(amount)
            return value, None, value
        if partner.commission_model == "flat":
            value = Decimal(partner.commission_rate).quantize(CENT)
            return value, None, value
        base = self.first_term_value(partner, customer)
        if base is None:
            raise DomainError(f"{partner.company} earns a percentage of the first term, but "
                              "no plan price is set for the partner. Lastmile staff must set "
                              "the partner's plan before the commission can be computed.")
        if partner.commission_model == "tiered":
            rate = self._tier_rate(partner)
        else:
            rate = Decimal(partner.commission_rate)
        return base, rate, (base * rate / 100).quantize(CENT)

    def _tier_rate(self, partner):
        # Two commissions of one partner at once must not both see the same count: the
        # partner row's lock (PostgreSQL; SQLite serializes writers anyway) orders them.
        self.session.execute(select(Partner.id).where(Partner.id == partner.id)
                             .with_for_update())
        month_start = datetime(utcnow().year, utcnow().month, 1)
        earlier = self.session.execute(
            select(func.count(CommissionEntry.id)).where(
                CommissionEntry.partner_id == partner.id,
                CommissionEntry.type == "new_customer", CommissionEntry.status != "void",
                CommissionEntry.created_at >= month_start)).scalar()
        return tier_rate(partner.commission_tiers, earlier + 1)

    # --- lookups ---------------------------------------------------------------------------

    def _partner(self, partner_id):
        partner = self.session.get(Partner, partner_id) if _is_int(partner_id) else None
        if partner is None:
            raise NotFound(f"Partner {partner_id} does not exist.")
        return partner

    def _entry(self, commission_id):
        entry = self.session.get(CommissionEntry, commission_id) \
            if _is_int(commission_id) else None
        if entry is None:
            raise NotFound(f"Commission entry {commission_id} does not exist.")
        return entry

    def _has_new_customer_entry(self, customer_id):
        return self.session.execute(
            select(CommissionEntry.id).where(
                CommissionEntry.customer_id == customer_id,
                CommissionEntry.type == "new_customer",
                CommissionEntry.status != "void").limit(1)).first() is not None

    @staticmethod
    def _currency(partner):
        return partner.plan.currency if partner.plan else "USD"


def tier_rate(tiers, new_customers):
    """The rate of the highest tier whose min_customers <= new_customers (0 when none)."""
    rate = Decimal(0)
    for tier in sorted(tiers or [], key=lambda t: int(t["min_customers"])):
        if int(tier["min_customers"]) <= new_customers:
            rate = Decimal(str(tier["rate"]))
    return rate


def validate_tiers(tiers):
    """A list of {"min_customers": int >= 0, "rate": 0..100} with distinct minimums, sorted;
    raises ValidationError otherwise."""
    if not isinstance(tiers, list) or not tiers:
        raise ValidationError("Tiers are missing.", details={
            "commission_tiers": "Give at least one tier."})
    clean, seen = [], set()
    for tier in tiers:
        try:
            minimum = int(tier["min_customers"])
            rate = Decimal(str(tier["rate"]))
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise ValidationError("Bad tier.", details={
                "commission_tiers": "Each tier needs a whole number of customers and a rate."})
        if minimum < 0 or minimum in seen or not (0 <= rate <= 100):
            raise ValidationError("Bad tier.", details={
                "commission_tiers": "Minimums must be distinct and >= 0; rates 0 to 100."})
        seen.add(minimum)
        clean.append({"min_customers": minimum, "rate": str(rate)})
    return sorted(clean, key=lambda t: t["min_customers"])


def _is_int(value):
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def _positive_int(value, field):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(value).strip() not in (str(number),):
        raise ValidationError("Enter a number of licenses.", details={
            field: "Enter a whole number of licenses, at least 1."})
    return number


def _money(value):
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 10:
        raise ValidationError("Bad commission amount.", details={
            "amount": "Enter an amount of money, 0 or more, like 125.00."})
    return amount
