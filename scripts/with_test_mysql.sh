#!/usr/bin/env bash
# Run a command (the test suite) with RETUNE_TEST_MYSQL_URL pointing at a fresh test
# database on the local MySQL/MariaDB server, owned by a least-privilege user whose
# password is made anew for each run and lives only in this process's environment.
# Without a reachable server the command still runs; the MySQL tests then skip
# (or fail, under CI=true).
set -euo pipefail

db="${RETUNE_TEST_MYSQL_DB:-retune_test}"
user="${RETUNE_TEST_MYSQL_USER:-retune_test}"
host="${RETUNE_TEST_MYSQL_HOST:-127.0.0.1}"
port="${RETUNE_TEST_MYSQL_PORT:-3306}"
if command -v mysql >/dev/null && mysql --user=root --host="$host" --port="$port" --batch \
  -e 'SELECT 1' >/dev/null 2>&1; then
  test_database() {  # database user -> its URL
    local password
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    # The same script the compose stack's MySQL runs at its first start.
    MYSQL_ADMIN_HOST="$host" MYSQL_ADMIN_PORT="$port" DB_USER_HOSTS="localhost 127.0.0.1" \
      DB_RESET=1 OPTUNA_DB_NAME="$1" OPTUNA_DB_USER="$2" OPTUNA_DB_PASSWORD="$password" \
      "$(dirname "$0")/../docker/mysql-init.sh"
    echo "mysql+pymysql://$2:$password@$host:$port/$1"
  }
  RETUNE_TEST_MYSQL_URL="$(test_database "$db" "$user")"
  # The end-to-end suite runs beside the others (scripts/run_tests.sh), on a database and
  # user of its own: some tests kill every connection of their user.
  RETUNE_TEST_MYSQL_E2E_URL="$(test_database "${db}_e2e" "${user}_e2e")"
  export RETUNE_TEST_MYSQL_URL RETUNE_TEST_MYSQL_E2E_URL
else
  echo "no MySQL server answers as root on $host:$port: MySQL tests will skip (fail under CI=true)" >&2
fi
exec "$@"
