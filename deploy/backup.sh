#!/bin/sh
# One compressed pg_dump of the CRM's database into BACKUP_DIR, then backups older than KEEP_DAYS
# days are deleted. Run by crm-backup.service; safe to run by hand:
#   DATABASE_URL=postgres://crm:...@127.0.0.1:5432/crm BACKUP_DIR=/var/backups/crm deploy/backup.sh
# DATABASE_URL is the app's own (postgres://user:password@host:port/name), which libpq reads too.
set -eu

: "${DATABASE_URL:?DATABASE_URL is not set}"
BACKUP_DIR="${BACKUP_DIR:-/var/backups/crm}"
KEEP_DAYS="${KEEP_DAYS:-14}"

umask 077
mkdir -p "$BACKUP_DIR"
file="$BACKUP_DIR/crm-$(date +%Y%m%d-%H%M%S).dump"
# Written under another name first: a dump cut short never looks like a backup.
pg_dump --format=custom --file="$file.partial" --dbname="$DATABASE_URL"
mv "$file.partial" "$file"
find "$BACKUP_DIR" -maxdepth 1 -name 'crm-*.dump' -mtime "+$KEEP_DAYS" -delete
find "$BACKUP_DIR" -maxdepth 1 -name 'crm-*.dump.partial' -mmin +1440 -delete
echo "Backed up to $file"
