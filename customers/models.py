import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .history import CRMHistoricalRecords
from .phones import LastDigits, normalize_phone

# Easemob's visitor ids differ by channel (IM ids, WeChat openids, Weibo fan ids, WeCom user
# ids); all are far shorter than this, which also bounds what a URL may ask us to look up.
VISITOR_IM_ID_MAX_LENGTH = 255


def new_revision():
    """A fresh value for `Customer.revision`. Random rather than counted: two writers that read
    the same revision and bump it at once still leave a value neither of them saw before."""
    return secrets.randbits(62)


class CustomerQuerySet(models.QuerySet):
    def touch(self):
        """Record that these customers' data changed: their record, tags, notes, orders or
        items. What was derived from the old revision (the panel's cached customer card) is no
        longer used. `save()` and the signals in `revisions.py` do this; a write that bypasses
        them (`bulk_create`, `bulk_update`, `update()`) calls it itself, after the write."""
        return self.update(revision=new_revision())


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class Customer(models.Model):
    class Gender(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    class Level(models.TextChoices):
        REGULAR = "regular", _("Regular")
        SILVER = "silver", _("Silver")
        GOLD = "gold", _("Gold")
        DIAMOND = "diamond", _("Diamond")

    name = models.CharField(_("name"), max_length=100)
    nickname = models.CharField(_("nickname"), max_length=100, blank=True)
    gender = models.CharField(
        _("gender"), max_length=10, choices=Gender.choices, default=Gender.UNKNOWN
    )
    phone = models.CharField(
        _("phone"),
        max_length=32,
        blank=True,
        help_text=_("Stored without spaces or dashes; +86 is dropped from mainland mobiles."),
    )
    email = models.EmailField(_("email"), blank=True)
    external_id = models.CharField(
        _("external ID"),
        max_length=128,
        blank=True,
        help_text=_(
            "The user id in your business system: what your app sends to Easemob as customUserId."
        ),
    )
    company = models.CharField(_("company"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    qq = models.CharField(_("QQ"), max_length=20, blank=True)
    wechat = models.CharField(_("WeChat"), max_length=64, blank=True)
    level = models.CharField(
        _("level"), max_length=10, choices=Level.choices, default=Level.REGULAR
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers", verbose_name=_("tags"))
    remarks = models.TextField(_("remarks"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Changes with every change to the customer or to what belongs to them (tags, notes, orders,
    # items): a cache of anything derived from them is keyed on it, so that a change shows on
    # the very next read however it was written, with or without the cache server.
    revision = models.BigIntegerField(_("revision"), default=new_revision, editable=False)

    objects = CustomerQuerySet.as_manager()
    # The revision changes with every change to the customer's orders and notes too
    # (`touch()`): in the history it would say nothing and hide the customer's own changes.
    history = CRMHistoricalRecords(excluded_fields=["revision", "updated_at"])

    # Cleared when the customer's personal data is erased (the name becomes a placeholder, the
    # gender unknown and the tags go too). The level and the creation time say nothing about
    # who the person is and keep the statistics right.
    PERSONAL_FIELDS = (
        "nickname",
        "phone",
        "email",
        "external_id",
        "company",
        "address",
        "qq",
        "wechat",
        "remarks",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [
            ("erase_customer", "Can erase a customer's personal data"),
            ("export_customer_data", "Can export a customer's personal data"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="customer_unique_external_id",
                violation_error_message=_("Another customer already has this external ID."),
            ),
        ]
        indexes = [
            models.Index(fields=["phone"], name="customer_phone_idx"),
            # The last four digits a caller reads out (尾号): the admin's search.
            models.Index(LastDigits("phone"), name="customer_phone_last4_idx"),
            models.Index(fields=["email"], name="customer_email_idx"),
            models.Index(fields=["name"], name="customer_name_idx"),
            models.Index(fields=["created_at"], name="customer_created_idx"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.clean()
        self.revision = new_revision()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "revision"}
        super().save(*args, **kwargs)

    def latest_notes(self, limit=3):
        return self.notes.select_related("author").order_by("-created_at")[:limit]

    def clean(self):
        self.phone = normalize_phone(self.phone)
        self.email = self.email.strip().lower()
        self.external_id = self.external_id.strip()


class VisitorIdentity(models.Model):
    """One Easemob visitor id (per channel) known to belong to a customer."""

    class Channel(models.TextChoices):
        APP = "app", _("App")
        WEB = "web", _("Web")
        WECHAT = "wechat", _("WeChat")
        WEIBO = "weibo", _("Weibo")
        WECOM = "wecom", _("WeCom")
        OTHER = "other", _("Other")

    class BoundVia(models.TextChoices):
        STAFF = "staff", _("Entered by staff")
        CUSTOM_USER_ID = "custom_user_id", _("customUserId matched the external ID")
        PHONE = "phone", _("Pushed phone matched")
        EMAIL = "email", _("Pushed email matched")
        AGENT = "agent", _("Linked by an agent in the panel")
        IMPORT = "import", _("Imported")
        API = "api", _("Business system API")

    visitor_im_id = models.CharField(
        _("visitor IM ID"),
        max_length=VISITOR_IM_ID_MAX_LENGTH,
        unique=True,
        error_messages={"unique": _("This visitor ID is already linked to a customer.")},
        help_text=_("Easemob's visitorImId: IM id, WeChat openid, Weibo fan id or WeCom userid."),
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="visitor_identities",
        verbose_name=_("customer"),
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.OTHER
    )
    bound_via = models.CharField(
        _("linked by"), max_length=20, choices=BoundVia.choices, default=BoundVia.STAFF
    )
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("visitor identity")
        verbose_name_plural = _("visitor identities")

    def __str__(self):
        return self.visitor_im_id


class Note(models.Model):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="notes", verbose_name=_("customer")
    )
    body = models.TextField(_("note"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff author"),
    )
    agent_name = models.CharField(_("agent name"), max_length=100, blank=True)
    agent_id = models.CharField(_("agent ID"), max_length=100, blank=True)
    ssid = models.CharField(
        _("session ID"), max_length=100, blank=True, help_text=_("Easemob session (ssid).")
    )
    created_at = models.DateTimeField(_("written"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        indexes = [models.Index(fields=["customer", "-created_at"], name="note_customer_idx")]

    def __str__(self):
        return self.body[:50]

    @property
    def written_by(self):
        if self.author_id:
            return self.author.get_full_name() or self.author.get_username()
        return self.agent_name or self.agent_id


class FollowUpQuerySet(models.QuerySet):
    def open(self):
        return self.filter(done_at=None)

    def due_by(self, moment):
        """Open follow-ups due at or before `moment`: overdue ones included."""
        return self.open().filter(due_at__lte=moment)

    def mark_done(self, *, user=None, agent_name=""):
        """Close the open ones among these; the number closed. One UPDATE: the admin's bulk
        action and the panel's button both end here."""
        return self.open().update(done_at=timezone.now(), done_by=user, done_by_agent=agent_name)


class FollowUp(models.Model):
    """Something to do about a customer by a given time (待回访): call back, check a refund.
    Set by an agent from the panel or by staff in the admin; open until someone marks it done."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("customer")
    )
    due_at = models.DateTimeField(_("due"))
    what = models.CharField(_("what to do"), max_length=300)
    created_at = models.DateTimeField(_("set at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("set by staff"),
    )
    agent_name = models.CharField(_("agent name"), max_length=100, blank=True)
    agent_id = models.CharField(_("agent ID"), max_length=100, blank=True)
    ssid = models.CharField(
        _("session ID"), max_length=100, blank=True, help_text=_("Easemob session (ssid).")
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by staff"),
    )
    done_by_agent = models.CharField(_("done by agent"), max_length=100, blank=True)

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [
            # The panel's "next open follow-up of this customer", on every load.
            models.Index(
                fields=["customer", "due_at"],
                condition=Q(done_at=None),
                name="follow_up_open_customer_idx",
            ),
            # The admin's due and overdue list.
            models.Index(
                fields=["due_at"], condition=Q(done_at=None), name="follow_up_open_due_idx"
            ),
        ]

    def __str__(self):
        return self.what[:50]

    @property
    def written_by(self):
        if self.created_by_id:
            return self.created_by.get_full_name() or self.created_by.get_username()
        return self.agent_name or self.agent_id

    @property
    def overdue(self):
        return self.done_at is None and self.due_at < timezone.now()
