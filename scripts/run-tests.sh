#!/usr/bin/env bash
# Run every suite. The database-backed suites run once per database leg: SQLite always, MariaDB
# and PostgreSQL when reachable (REQUIRE_ALL_DATABASES=1, set by CI, makes a missing one fail).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=".venv/bin/pytest"
MYSQL_URL="${TEST_MYSQL_URL:-mysql+asyncmy://root@127.0.0.1:3306/test}"
PG_URL="${TEST_POSTGRES_URL:-postgresql+asyncpg://root@127.0.0.1:5432/test}"
DB_SUITES="tests/api tests/db tests/chat tests/rag tests/tools"
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

status=0
ran=()
skipped=()

echo "== lint (ruff) =="
.venv/bin/ruff check src tests bench || status=1

echo "== leg: sqlite (all Python suites) =="
if $PYTEST -q; then ran+=("sqlite"); else status=1; ran+=("sqlite(FAILED)"); fi

for leg in "mariadb 3306 $MYSQL_URL" "postgresql 5432 $PG_URL"; do
  set -- $leg
  name=$1 port=$2 url=$3
  if up "$port"; then
    echo "== leg: $name ($DB_SUITES) =="
    if TEST_DATABASE_URL="$url" REQUIRE_DATABASE=1 $PYTEST -q $DB_SUITES; then ran+=("$name"); else status=1; ran+=("$name(FAILED)"); fi
  elif [ "${REQUIRE_ALL_DATABASES:-0}" = "1" ]; then
    echo "!! $name is not reachable on port $port and REQUIRE_ALL_DATABASES=1"; status=1; skipped+=("$name(REQUIRED)")
  else
    echo "-- $name not reachable: leg skipped"; skipped+=("$name")
  fi
done

if [ -f frontend/package.json ] && [ -x scripts/test-frontend.sh ]; then
  echo "== frontend =="
  scripts/test-frontend.sh || status=1
fi

echo
echo "database legs run: ${ran[*]:-none}"
[ ${#skipped[@]} -gt 0 ] && echo "database legs skipped: ${skipped[*]}"
exit $status
