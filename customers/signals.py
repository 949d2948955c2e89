"""Signals for the apps built around the CRM core.

The core (customers, orders) imports nothing from them: an app that keeps personal data of its
own about a customer (the Easemob panel's visitor info and audit log) connects to these.
"""

from django.dispatch import Signal

# Sent inside the erasure's transaction, before the customer's visitor identities are deleted
# and before their fields are cleared, with `customer` and `visitor_im_ids` (a list). A
# receiver removes or anonymises what its app holds about them; an exception rolls the whole
# erasure back.
customer_erasing = Signal()

# Sent to build the export for a customer's access request, with `customer` and
# `visitor_im_ids`. Each receiver returns a dict of sections ({name: JSON-serialisable data})
# that is added to the export.
customer_data_export = Signal()

# Sent to build a customer's timeline in the admin, with `customer` and `limit`. Each receiver
# returns a list of `customers.timeline.Entry` (at most `limit`, the newest), which the timeline
# merges with the customer's own notes, follow-ups and orders.
customer_timeline = Signal()
