from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import VISITOR_IM_ID_MAX_LENGTH, VisitorIdentity


class VisitorInfo(models.Model):
    """What a visitor's app pushed with `updateVisitorInfoSrc` cmd messages.

    Easemob only appends those parameters to the panel URL on the load that follows the cmd
    message; history sessions, quality checks and the second iframe load the panel without
    them. Keeping them here lets every later load show them.
    """

    visitor_im_id = models.CharField(
        _("visitor IM ID"), max_length=VISITOR_IM_ID_MAX_LENGTH, unique=True
    )
    # name -> value, decrypted, merged across loads (the newest value of a name wins).
    params = models.JSONField(_("parameters"), default=dict)
    # name -> {"updated_at": ISO time, "unverified": bool}: when each value last arrived, and
    # whether it came as plaintext while a key was set (so it is shown but never trusted).
    param_meta = models.JSONField(_("parameter details"), default=dict)
    # Customers an agent unlinked this visitor from: pushed values that point at them no longer
    # bind the visitor automatically (an agent linking by hand still can).
    unlinked_customer_ids = models.JSONField(_("unlinked customers"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("visitor info")
        verbose_name_plural = _("visitor info")

    def __str__(self):
        return self.visitor_im_id


class AuditEvent(models.Model):
    """Who looked at or changed what through the panel, from where, and how it went."""

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed the panel")
        REVEAL = "reveal", _("Revealed contact details")
        BIND = "bind", _("Linked a visitor automatically")
        LOOKUP = "lookup", _("Looked up orders")
        SEARCH = "search", _("Searched customers")
        LINK = "link", _("Linked a visitor to a customer")
        CREATE = "create", _("Created a customer")
        NOTE = "note", _("Added a note")
        UNLINK = "unlink", _("Unlinked a visitor")
        FOLLOW_UP = "follow_up", _("Set a follow-up")
        FOLLOW_UP_DONE = "follow_up_done", _("Marked a follow-up done")

    class Outcome(models.TextChoices):
        OK = "ok", _("Succeeded")
        UNKNOWN = "unknown", _("Unknown visitor or nothing found")
        BAD_REQUEST = "bad_request", _("Bad request")
        DENIED = "denied", _("Refused")

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    visitor_im_id = models.CharField(
        _("visitor IM ID"), max_length=VISITOR_IM_ID_MAX_LENGTH, blank=True
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    agent_name = models.CharField(_("agent name"), max_length=100, blank=True)
    agent_id = models.CharField(_("agent ID"), max_length=100, blank=True)
    agent_email = models.CharField(_("agent email"), max_length=254, blank=True)
    tenant_id = models.CharField(_("tenant ID"), max_length=64, blank=True)
    ssid = models.CharField(_("session ID"), max_length=100, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    # The visitor's channel on panel loads (the admin's dashboard counts loads by channel).
    channel = models.CharField(
        _("channel"), max_length=10, choices=VisitorIdentity.Channel.choices, blank=True
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("panel audit event")
        verbose_name_plural = _("panel audit log")
        indexes = [
            models.Index(fields=["visitor_im_id", "-created_at"], name="audit_visitor_idx"),
            models.Index(fields=["customer", "-created_at"], name="audit_customer_idx"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.visitor_im_id}"


class Conversation(models.Model):
    """One Easemob session (`ssid`) the panel was loaded in: the customer's contact history.

    Recorded once, by the first panel load that carries the session id (history.py); its last
    seen time is refreshed at most every few minutes, like VisitorIdentity.last_seen_at.
    """

    ssid = models.CharField(_("session ID"), max_length=100, unique=True)
    visitor_im_id = models.CharField(_("visitor IM ID"), max_length=VISITOR_IM_ID_MAX_LENGTH)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=VisitorIdentity.Channel.choices, blank=True
    )
    agent_name = models.CharField(_("agent name"), max_length=100, blank=True)
    agent_id = models.CharField(_("agent ID"), max_length=100, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        ordering = ["-first_seen_at"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            # The panel's history of a customer, and of a visitor not linked yet, on every load.
            models.Index(fields=["customer", "-first_seen_at"], name="conversation_customer_idx"),
            models.Index(
                fields=["visitor_im_id", "-first_seen_at"], name="conversation_visitor_idx"
            ),
        ]

    def __str__(self):
        return self.ssid

    @property
    def agent(self):
        return self.agent_name or self.agent_id
