"""FreeRADIUS 3's SQL schema (raddb/mods-config/sql/main/postgresql/schema.sql), column for
column, so a stock rlm_sql authenticates from these tables. Names are lower case because
PostgreSQL folds FreeRADIUS's unquoted identifiers to lower case."""
from sqlalchemy.dialects import postgresql

from app.extensions import db

Inet = db.String(45).with_variant(postgresql.INET(), "postgresql")
TZTime = db.DateTime(timezone=True)


class _AttributeRow:
    id = db.Column(db.Integer, primary_key=True)
    attribute = db.Column(db.Text, nullable=False, default="")
    op = db.Column(db.String(2), nullable=False, default="==")
    value = db.Column(db.Text, nullable=False, default="")


class RadCheck(_AttributeRow, db.Model):
    __tablename__ = "radcheck"
    username = db.Column(db.Text, nullable=False, default="", index=True)


class RadReply(_AttributeRow, db.Model):
    __tablename__ = "radreply"
    username = db.Column(db.Text, nullable=False, default="", index=True)


class RadGroupCheck(_AttributeRow, db.Model):
    __tablename__ = "radgroupcheck"
    groupname = db.Column(db.Text, nullable=False, default="", index=True)


class RadGroupReply(_AttributeRow, db.Model):
    __tablename__ = "radgroupreply"
    groupname = db.Column(db.Text, nullable=False, default="", index=True)


class RadUserGroup(db.Model):
    __tablename__ = "radusergroup"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.Text, nullable=False, default="", index=True)
    groupname = db.Column(db.Text, nullable=False, default="")
    priority = db.Column(db.Integer, nullable=False, default=0)


class RadAcct(db.Model):
    __tablename__ = "radacct"
    radacctid = db.Column(db.BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    acctsessionid = db.Column(db.Text, nullable=False)
    acctuniqueid = db.Column(db.Text, nullable=False, unique=True)
    username = db.Column(db.Text, index=True)
    groupname = db.Column(db.Text)
    realm = db.Column(db.Text)
    nasipaddress = db.Column(Inet, nullable=False)
    nasportid = db.Column(db.Text)
    nasporttype = db.Column(db.Text)
    acctstarttime = db.Column(TZTime)
    acctupdatetime = db.Column(TZTime)
    acctstoptime = db.Column(TZTime)
    acctinterval = db.Column(db.BigInteger)
    acctsessiontime = db.Column(db.BigInteger)
    acctauthentic = db.Column(db.Text)
    connectinfo_start = db.Column(db.Text)
    connectinfo_stop = db.Column(db.Text)
    acctinputoctets = db.Column(db.BigInteger)
    acctoutputoctets = db.Column(db.BigInteger)
    calledstationid = db.Column(db.Text)
    callingstationid = db.Column(db.Text)
    acctterminatecause = db.Column(db.Text)
    servicetype = db.Column(db.Text)
    framedprotocol = db.Column(db.Text)
    framedipaddress = db.Column(Inet)
    framedipv6address = db.Column(Inet)
    framedipv6prefix = db.Column(Inet)
    framedinterfaceid = db.Column(db.Text)
    delegatedipv6prefix = db.Column(Inet)
    class_ = db.Column("class", db.Text)


class RadPostAuth(db.Model):
    __tablename__ = "radpostauth"
    id = db.Column(db.BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    username = db.Column(db.Text, nullable=False)
    pass_ = db.Column("pass", db.Text)
    reply = db.Column(db.Text)
    calledstationid = db.Column(db.Text)
    callingstationid = db.Column(db.Text)
    authdate = db.Column(TZTime, nullable=False, server_default=db.func.now())
    class_ = db.Column("class", db.Text)


class Nas(db.Model):
    __tablename__ = "nas"
    id = db.Column(db.Integer, primary_key=True)
    nasname = db.Column(db.Text, nullable=False, index=True)
    shortname = db.Column(db.Text, nullable=False)
    type = db.Column(db.Text, nullable=False, default="other")
    ports = db.Column(db.Integer)
    secret = db.Column(db.Text, nullable=False)
    server = db.Column(db.Text)
    community = db.Column(db.Text)
    description = db.Column(db.Text)
