"""Every change to an order or its items changes the customer's revision (see
`customers/revisions.py`): the panel's cached customer card shows the change on its next load."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from customers.models import Customer

from .models import Order, OrderItem


@receiver(post_save, sender=Order)
@receiver(post_delete, sender=Order)
def order_changed(sender, instance, **kwargs):
    # An order moved to another customer leaves the first one's list too.
    ids = {instance.customer_id, instance.loaded_customer_id}
    Customer.objects.filter(pk__in=ids - {None}).touch()


@receiver(post_save, sender=OrderItem)
@receiver(post_delete, sender=OrderItem)
def item_changed(sender, instance, **kwargs):
    Customer.objects.filter(orders=instance.order_id).touch()
