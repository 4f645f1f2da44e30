"""RADIUS subscribers (W5 step 3), written in FreeRADIUS's own tables so a stock rlm_sql
authenticates them. The generated password is a secret: it is stored only in radcheck (where
FreeRADIUS must read it) and never returned, logged or emailed.

The rad* tables live in the platform's database, or in a database of their own when
RADIUS_DATABASE_URL is set (its schema made by `flask radius init-db`). Writes there are
committed on their own, so each method is idempotent by itself: a replay finds its rows."""
import secrets

from flask import current_app
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from app.errors import DomainError, NotFound
from app.models import (BandwidthProfile, Plan, RadCheck, RadGroupCheck, RadGroupReply,
                        RadReply, RadUserGroup, ServiceInstance)
from app.services.base import Service

RADIUS_TABLES = [model.__table__ for model in (RadCheck, RadReply, RadGroupCheck,
                                               RadGroupReply, RadUserGroup)]
_engines = {}


def radius_engine(url):
    if url not in _engines:
        _engines[url] = create_engine(url, pool_pre_ping=True)
    return _engines[url]


class RadiusService(Service):
    name = "radius"

    @property
    def rad(self):
        """The session that holds the rad* tables."""
        url = current_app.config.get("RADIUS_DATABASE_URL")
        if not url:
            return self.session
        if not hasattr(self, "_rad"):
            self._rad = Session(bind=radius_engine(url))
        return self._rad

    def _commit_rad(self):
        if self.rad is not self.session:
            self.rad.commit()

    def create_subscriber(self, customer_id, service_id, username, bandwidth_profile, *,
                          idempotency_key=None):
        def produce():
            service = self.session.get(ServiceInstance, service_id)
            if service is None or service.customer_id != customer_id:
                raise NotFound("That service does not exist for this customer.")
            profile = self._profile(bandwidth_profile)
            ip = self.rad.execute(select(RadReply.value).filter_by(
                username=username, attribute="Framed-IP-Address")).scalar()
            if ip is not None and ip != service.ip_address:
                raise DomainError(f"The RADIUS user {username} already exists.")
            if ip is None:
                self.rad.add_all([
                    RadCheck(username=username, attribute="Cleartext-Password", op=":=",
                             value=secrets.token_urlsafe(12)),
                    RadCheck(username=username, attribute="Simultaneous-Use", op=":=",
                             value="1"),
                    RadReply(username=username, attribute="Framed-IP-Address", op="=",
                             value=service.ip_address),
                    RadUserGroup(username=username, groupname=profile.radius_group,
                                 priority=1)])
            self.ensure_group(profile)
            self._commit_rad()
            return {"username": username, "radius_group": profile.radius_group}
        return self.once(idempotency_key, "radius.create_subscriber", produce)

    def _profile(self, code):
        """A bandwidth profile by its code, or the profile of the internet plan so coded."""
        profile = self.session.execute(select(BandwidthProfile).filter_by(code=code)
                                       ).scalar_one_or_none()
        if profile is None:
            plan = self.session.execute(select(Plan).filter_by(code=code)).scalar_one_or_none()
            profile = plan.bandwidth_profile if plan else None
        if profile is None:
            raise DomainError(f"There is no bandwidth profile {code}.")
        return profile

    def ensure_group(self, profile):
        """The group's rate limit as FreeRADIUS replies it (MikroTik: upload/download)."""
        rate = f"{profile.upload_kbps // 1000}M/{profile.download_kbps // 1000}M"
        row = self.rad.execute(select(RadGroupReply).filter_by(
            groupname=profile.radius_group, attribute="Mikrotik-Rate-Limit")
        ).scalar_one_or_none()
        if row is None:
            self.rad.add(RadGroupReply(groupname=profile.radius_group,
                                           attribute="Mikrotik-Rate-Limit", op=":=",
                                           value=rate))
        else:
            row.value = rate

    def delete_subscriber(self, username, *, idempotency_key=None):
        def produce():
            for model in (RadCheck, RadReply, RadUserGroup):
                self.rad.execute(delete(model).where(model.username == username))
            self._commit_rad()
            return {"username": username, "deleted": True}
        return self.once(idempotency_key, "radius.delete_subscriber", produce)

    def pppoe_password(self, username):
        """For the CPE's PPPoE settings (GenieACS); never for display."""
        return self.rad.execute(select(RadCheck.value).filter_by(
            username=username, attribute="Cleartext-Password")).scalar()

    def rows(self, username):
        """What FreeRADIUS reads for `username`, table by table (for the ops pages)."""
        return {model.__tablename__: self.rad.execute(select(model).filter_by(
            username=username).order_by(model.id)).scalars().all()
            for model in (RadCheck, RadReply, RadUserGroup)}

    def create_schema(self):
        """`flask radius init-db`: the rad* tables in RADIUS_DATABASE_URL's database."""
        url = current_app.config.get("RADIUS_DATABASE_URL")
        if not url:
            raise DomainError("RADIUS_DATABASE_URL is not set: the rad* tables are in the "
                              "platform's database already.")
        RadCheck.metadata.create_all(radius_engine(url), tables=RADIUS_TABLES)
