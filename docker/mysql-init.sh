#!/usr/bin/env bash
# Create Retune's databases, each with its own least-privilege user. Idempotent.
#
# The compose stack's MySQL runs it once, from /docker-entrypoint-initdb.d; the tests run
# it on the host (scripts/with_test_mysql.sh). For each pair whose password is set:
#   AIRFLOW_DB_PASSWORD  -> database ${AIRFLOW_DB_NAME:-airflow}, user ${AIRFLOW_DB_USER:-airflow}
#   OPTUNA_DB_PASSWORD   -> database ${OPTUNA_DB_NAME:-optuna},  user ${OPTUNA_DB_USER:-retune}
# Admin connection: root on ${MYSQL_ADMIN_HOST} (default: the local socket), password from
# MYSQL_ROOT_PASSWORD (handed to the client in its environment, never on a command line).
# DB_USER_HOSTS: the hosts the users may connect from (default '%'); DB_RESET=1 drops the
# databases first.
set -euo pipefail

admin=(mysql --user=root --batch)
if [ -n "${MYSQL_ADMIN_HOST:-}" ]; then
  admin+=(--host="$MYSQL_ADMIN_HOST" --port="${MYSQL_ADMIN_PORT:-3306}")
fi
export MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}"
hosts="${DB_USER_HOSTS:-%}"

# Identifiers are checked, and passwords quoted for SQL, since both end up in statements.
check_name() {
  [[ "$1" =~ ^[A-Za-z_][A-Za-z0-9_]{0,31}$ ]] || { echo "mysql-init: bad name '$1'" >&2; exit 2; }
}
sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/''/g")"; }

create() {  # database user password privileges
  local db="$1" user="$2" password privileges="$4" host
  password="$(sql_string "$3")"
  check_name "$db"
  check_name "$user"
  {
    if [ "${DB_RESET:-0}" = "1" ]; then echo "DROP DATABASE IF EXISTS \`$db\`;"; fi
    echo "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
    for host in $hosts; do
      echo "CREATE USER IF NOT EXISTS '$user'@'$host';"
      echo "ALTER USER '$user'@'$host' IDENTIFIED BY $password;"
      echo "GRANT $privileges ON \`$db\`.* TO '$user'@'$host';"
    done
  } | "${admin[@]}"
  echo "mysql-init: database $db, user $user (grants on $db only)" >&2
}

# Optuna creates and migrates its own tables; it needs nothing outside its database.
optuna_grants="SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, REFERENCES"
if [ -n "${AIRFLOW_DB_PASSWORD:-}" ]; then
  create "${AIRFLOW_DB_NAME:-airflow}" "${AIRFLOW_DB_USER:-airflow}" "$AIRFLOW_DB_PASSWORD" \
    "ALL PRIVILEGES"
fi
if [ -n "${OPTUNA_DB_PASSWORD:-}" ]; then
  create "${OPTUNA_DB_NAME:-optuna}" "${OPTUNA_DB_USER:-retune}" "$OPTUNA_DB_PASSWORD" \
    "$optuna_grants"
fi
