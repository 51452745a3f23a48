#!/bin/sh
# First start of the stack's PostgreSQL: setup.sql with Pulse's password (deploy/.env PULSE_DB_PASSWORD).
set -eu
psql -v ON_ERROR_STOP=1 -U postgres -v password="'$PULSE_DB_PASSWORD'" -f /pulse/setup.sql
