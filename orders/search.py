"""Finding the customers a search term may mean, as staff type it in the admin's customer search
and agents in the panel's: a phone in any form or its last four digits, an order number, an
email, an external or visitor id, a name. It lives with the orders because it reads them: the
customers app does not import orders (orders know customers, not the reverse)."""

from django.db.models import Q

from customers.models import Customer, VisitorIdentity
from customers.phones import LastDigits, last_digits, looks_like_phone, normalize_phone

from .models import Order


def matching_customers(term):
    """The ids of the customers a search term may mean, as one query that the changelist
    filters on (`pk__in`): each branch is an indexed lookup, none a join, so no DISTINCT and
    no scan of the customers for what staff type most (a caller's phone, its last four digits,
    an order number).

    A phone is matched in any written form (`+86 139 1234 5678`, `139-1234-5678`), as the
    panel's search does (customers.phones.normalize_phone); four digits alone are the last
    four of a phone (尾号). Names are matched anywhere in the name or nickname, and only for a
    term with letters in it: that branch reads all the names (about 25 ms at 100,000
    customers on PostgreSQL). A trigram index would not help: Chinese names are two or three
    characters, and a two-character term has no trigram to look up.
    """
    branches = [
        Customer.objects.filter(external_id=term).values("pk"),
        VisitorIdentity.objects.filter(visitor_im_id=term).values("customer_id"),
        # Order numbers are written in capitals; staff may not type them so.
        Order.objects.filter(number__in=sorted({term, term.upper()})).values("customer_id"),
    ]
    if looks_like_phone(term):
        digits = last_digits(term)
        if digits:
            branches.append(
                Customer.objects.alias(last=LastDigits("phone")).filter(last=digits).values("pk")
            )
        elif len(normalize_phone(term)) >= 5:
            branches.append(Customer.objects.filter(phone=normalize_phone(term)).values("pk"))
    elif "@" in term:
        # Emails are stored in lower case (Customer.clean).
        branches.append(Customer.objects.filter(email=term.lower()).values("pk"))
    else:
        names = Q(name__icontains=term) | Q(nickname__icontains=term)
        branches.append(Customer.objects.filter(names).values("pk"))
    first, *others = (branch.order_by() for branch in branches)
    return first.union(*others, all=True)
