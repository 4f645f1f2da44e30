"""RADIUS subscribers (W5 step 3), written in FreeRADIUS's own tables so a stock rlm_sql
authenticates them. The generated password is a secret: it is stored only in radcheck (where
FreeRADIUS must read it) and never returned, logged or emailed.

The rad* tables live in the platform's database, or in a database of their own when
RADIUS_DATABASE_URL is set (its schema made by `flask radius init-db`). Writes there are
committed on their own, so each method is idempotent by itself: a replay finds its rows."""
import secrets

from flask import current_app
from datetime import datetime, timedelta

from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.orm import Session

from app.errors import DomainError, NotFound
from app.models import (BandwidthProfile, Nas, Plan, RadAcct, RadCheck, RadGroupCheck,
                        RadGroupReply, RadPostAuth, RadReply, RadUserGroup, ServiceInstance)
from app.services.base import Service

# Accounting (radacct), post-auth and the nas clients too: FreeRADIUS writes and reads them
# in the same database as the rest.
RADIUS_TABLES = [model.__table__ for model in (RadCheck, RadReply, RadGroupCheck,
                                               RadGroupReply, RadUserGroup, RadAcct,
                                               RadPostAuth, Nas)]
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

    # ------------------------------------------------------------ suspension (W6)

    def move_to_group(self, username, groupname):
        """Put the subscriber in `groupname` (its radgroupreply decides the rate FreeRADIUS
        replies); returns the group it was in. Committed at once: FreeRADIUS reads it on the
        subscriber's next Access-Request."""
        previous = self.rad.execute(select(RadUserGroup.groupname).filter_by(
            username=username).order_by(RadUserGroup.priority, RadUserGroup.id)).scalar()
        if previous is None:
            raise DomainError(f"The RADIUS user {username} does not exist.")
        if previous != groupname:
            self.rad.execute(update(RadUserGroup).where(RadUserGroup.username == username)
                             .values(groupname=groupname))
        self._commit_rad()
        return previous

    def ensure_suspended_group(self):
        """The walled-garden profile: SUSPENDED_GROUP's rate (SUSPENDED_RATE_LIMIT)."""
        config = current_app.config
        group, rate = config["SUSPENDED_GROUP"], config["SUSPENDED_RATE_LIMIT"]
        row = self.rad.execute(select(RadGroupReply).filter_by(
            groupname=group, attribute="Mikrotik-Rate-Limit")).scalar_one_or_none()
        if row is None:
            self.rad.add(RadGroupReply(groupname=group, attribute="Mikrotik-Rate-Limit",
                                       op=":=", value=rate))
        elif row.value != rate:
            row.value = rate
        self._commit_rad()
        return group

    def group_of(self, username):
        return self.rad.execute(select(RadUserGroup.groupname).filter_by(
            username=username).order_by(RadUserGroup.priority, RadUserGroup.id)).scalar()

    def nas_secret(self, nas_address):
        """The shared secret of the NAS (its `nas` row, as FreeRADIUS reads clients), else
        NAS_COA_SECRET; None when neither is known."""
        secret = self.rad.execute(select(Nas.secret).where(Nas.nasname == nas_address)
                                  .limit(1)).scalar()
        return secret or current_app.config.get("NAS_COA_SECRET")

    # ------------------------------------------------------------ accounting

    def open_session(self, username):
        """The subscriber's session that is online now: the newest radacct row without a
        stop time (FreeRADIUS writes it on Accounting Start, closes it on Stop)."""
        if not username:
            return None
        return self.rad.execute(select(RadAcct).where(
            RadAcct.username == username, RadAcct.acctstoptime.is_(None))
            .order_by(RadAcct.acctstarttime.desc(), RadAcct.radacctid.desc()).limit(1)
        ).scalar()

    def usage_by_day(self, username, start, end):
        """Download/upload octets per day from `start` (a date) to `end` (exclusive), as
        [(date, download, upload)] with every day present.

        radacct keeps one row per session whose octet counters are the session's totals so
        far (Interim-Update overwrites them), so a session's traffic is counted on the day of
        its latest update. Seen from the subscriber: download is what the NAS sent
        (Acct-Output-Octets), upload what it received (Acct-Input-Octets)."""
        last_seen = func.coalesce(RadAcct.acctstoptime, RadAcct.acctupdatetime,
                                  RadAcct.acctstarttime)
        begin = datetime.combine(start, datetime.min.time())
        finish = datetime.combine(end, datetime.min.time())
        rows = self.rad.execute(select(
            func.date(last_seen), func.sum(RadAcct.acctoutputoctets),
            func.sum(RadAcct.acctinputoctets)).where(
            RadAcct.username == username, last_seen >= begin, last_seen < finish)
            .group_by(func.date(last_seen))).all()
        found = {str(day)[:10]: (int(down or 0), int(up or 0)) for day, down, up in rows}
        days = []
        day = start
        while day < end:
            down, up = found.get(day.isoformat(), (0, 0))
            days.append((day, down, up))
            day += timedelta(days=1)
        return days

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
