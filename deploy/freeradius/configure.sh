#!/usr/bin/env bash
# Point a Debian FreeRADIUS 3 (packages freeradius, freeradius-postgresql) at Lastmile's
# PostgreSQL: enable rlm_sql with the postgresql dialect, reading radcheck, radreply,
# radusergroup and radgroupreply, which Lastmile writes for every subscriber; writing
# accounting (Start / Interim-Update / Stop) to radacct with Debian's stock
# mods-config/sql/main/postgresql/queries.conf (the default site's accounting section calls
# sql); and reading the NAS clients from the `nas` table too (read_clients), so that a NAS's
# secret lives in one place, used by FreeRADIUS and by Lastmile's Disconnect-Requests.
#
#   deploy/freeradius/configure.sh postgresql://user:pass@host:5432/lastmile [RADDB]
#       [--port 1812] [--no-inner-tunnel] [--as-current-user]
#
# RADDB defaults to /etc/freeradius/3.0 (edited in place; restart freeradius after).
# --port sets the auth port (accounting = port + 1); --no-inner-tunnel and --as-current-user
# are for running a private copy (the integration test does).
set -euo pipefail
url=${1:?usage: configure.sh DATABASE_URL [RADDB] [options]}
shift
raddb=/etc/freeradius/3.0
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then raddb=$1; shift; fi
port="" inner=yes current_user=no
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --no-inner-tunnel) inner=no; shift ;;
    --as-current-user) current_user=yes; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

# postgresql://user:password@host:port/db -> a libpq connection string
conninfo=$(python3 - "$url" <<'PY'
import sys
from urllib.parse import unquote, urlparse
u = urlparse(sys.argv[1].replace("postgresql+psycopg://", "postgresql://"))
parts = {"dbname": u.path.lstrip("/"), "host": u.hostname or "localhost",
         "port": str(u.port or 5432), "user": unquote(u.username or "postgres")}
if u.password:
    parts["password"] = unquote(u.password)
print(" ".join(f"{k}={v}" for k, v in parts.items()))
PY
)

sql="$raddb/mods-available/sql"
sed -i \
  -e 's/^\tdialect = .*/\tdialect = "postgresql"/' \
  -e 's/^\tdriver = .*/\tdriver = "rlm_sql_postgresql"/' \
  -e "s|^\t#\?radius_db = .*|\tradius_db = \"$conninfo\"|" \
  -e 's/^#\?\tread_clients = .*/\tread_clients = yes/' \
  "$sql"
# accounting: the stock default site already has "-sql" in its accounting section; say so
# loudly if a local edit took it out (the usage charts and "online now" read radacct).
grep -Pzq 'accounting \{[^}]*\n\t-?sql\n' "$raddb/sites-available/default" ||
  echo "warning: sites-available/default does not call sql in accounting: radacct stays empty" >&2
ln -sf ../mods-available/sql "$raddb/mods-enabled/sql"

if [ -n "$port" ]; then
  # the first "port = 0" is the auth listener, the second the accounting one
  awk -v auth="$port" -v acct="$((port + 1))" '
    /^\tport = 0$/ && n == 0 { print "\tport = " auth; n++; next }
    /^\tport = 0$/ && n == 1 { print "\tport = " acct; n++; next }
    { print }' "$raddb/sites-available/default" > "$raddb/sites-available/default.new"
  mv "$raddb/sites-available/default.new" "$raddb/sites-available/default"
  sed -i 's/^\tipaddr = \*/\tipaddr = 127.0.0.1/' "$raddb/sites-available/default"
fi
[ "$inner" = no ] && rm -f "$raddb/sites-enabled/inner-tunnel"
if [ "$current_user" = yes ]; then
  sed -i -e 's/^\tuser = freerad/#\tuser = freerad/' -e 's/^\tgroup = freerad/#\tgroup = freerad/' \
    "$raddb/radiusd.conf"
fi
echo "FreeRADIUS at $raddb now reads its users and NAS clients from, and writes accounting to, $(echo "$conninfo" | sed 's/password=[^ ]*/password=****/')"
