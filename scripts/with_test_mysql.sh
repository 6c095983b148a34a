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
admin=(mysql --user=root --host="$host" --port="$port" --batch)

if command -v mysql >/dev/null && "${admin[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  "${admin[@]}" <<SQL
DROP DATABASE IF EXISTS \`$db\`;
CREATE DATABASE \`$db\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$user'@'localhost';
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1';
ALTER USER '$user'@'localhost' IDENTIFIED BY '$password';
ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, REFERENCES
  ON \`$db\`.* TO '$user'@'localhost', '$user'@'127.0.0.1';
SQL
  export RETUNE_TEST_MYSQL_URL="mysql+pymysql://$user:$password@$host:$port/$db"
  echo "test MySQL: database $db, user $user (grants on $db only)" >&2
else
  echo "no MySQL server answers as root on $host:$port: MySQL tests will skip (fail under CI=true)" >&2
fi
exec "$@"
