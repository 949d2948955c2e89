#!/bin/sh
# manage.py as the crm user with exactly the service's environment (/etc/crm/env, readable by
# root only). Run as root, e.g.  /srv/crm/deploy/manage.sh migrate
set -eu

root="$(cd "$(dirname "$0")/.." && pwd)"
# A terminal for interactive commands (createsuperuser, changepassword), pipes otherwise.
if [ -t 0 ]; then io=--pty; else io=--pipe; fi
exec systemd-run --quiet --wait --collect "$io" --uid=crm --gid=crm \
    --property=EnvironmentFile=/etc/crm/env --working-directory="$root" \
    "$root/.venv/bin/python" manage.py "$@"
