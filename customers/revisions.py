"""Every change to what belongs to a customer changes the customer's revision
(`Customer.revision`): tags, their names, notes. `orders/revisions.py` does the same for orders
and items. Writes that bypass signals (`bulk_create`, `bulk_update`, `update()`) call
`Customer.objects.filter(...).touch()` themselves.

The receivers run inside the writer's transaction, after its write: a reader that sees the new
revision sees the change too.
"""

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from .models import Customer, Note, Tag


@receiver(m2m_changed, sender=Customer.tags.through)
def tags_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if reverse:
        # tag.customers.add/remove/clear: `pk_set` holds the customers, or None for clear.
        if action in ("post_add", "post_remove"):
            Customer.objects.filter(pk__in=pk_set).touch()
        elif action == "pre_clear":
            Customer.objects.filter(tags=instance).touch()
    elif action in ("post_add", "post_remove", "post_clear"):
        Customer.objects.filter(pk=instance.pk).touch()


@receiver(post_save, sender=Tag)
def tag_renamed(sender, instance, created, **kwargs):
    if not created:
        Customer.objects.filter(tags=instance).touch()


@receiver(pre_delete, sender=Tag)
def tag_deleting(sender, instance, **kwargs):
    # Before the delete: afterwards no row says who had the tag.
    Customer.objects.filter(tags=instance).touch()


@receiver(post_save, sender=Note)
@receiver(post_delete, sender=Note)
def note_changed(sender, instance, **kwargs):
    Customer.objects.filter(pk=instance.customer_id).touch()


# A note shows its author's name (Note.written_by); the author's deletion empties it (SET_NULL,
# an update() that sends no signals). A login saves only `last_login`: no name changes then.
NAME_FIELDS = {"username", "first_name", "last_name"}


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def author_saved(sender, instance, created, update_fields, **kwargs):
    if not created and (update_fields is None or NAME_FIELDS & set(update_fields)):
        Customer.objects.filter(notes__author=instance).touch()


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def author_deleting(sender, instance, **kwargs):
    # Before the delete: afterwards no note says who wrote it.
    Customer.objects.filter(notes__author=instance).touch()
