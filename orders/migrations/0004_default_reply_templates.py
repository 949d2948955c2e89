"""The reply templates a fresh installation starts with: one per order status, in Chinese and
in English. Staff edit them in the admin; this migration never overwrites an edited one."""

from django.db import migrations

DEFAULTS = {
    "pending": (
        "您的订单 {number} 已提交，待支付金额 {total}，请尽快完成支付。",
        "Your order {number} has been placed; {total} is awaiting payment.",
    ),
    "paid": (
        "您的订单 {number} 已于 {paid_date} 支付 {total}，我们会尽快为您发货。",
        "Your order {number} was paid ({total}) on {paid_date}; we will ship it soon.",
    ),
    "shipped": (
        "您的订单 {number} 已于 {shipped_date} 发货，{carrier} {tracking_number}。",
        "Your order {number} shipped on {shipped_date} with {carrier}, tracking number "
        "{tracking_number}.",
    ),
    "completed": (
        "您的订单 {number} 已完成，感谢您的支持！如有问题随时联系我们。",
        "Your order {number} is complete. Thank you, and let us know if anything is wrong.",
    ),
    "cancelled": (
        "您的订单 {number} 已取消。",
        "Your order {number} has been cancelled.",
    ),
    "refunded": (
        "您的订单 {number} 已退款 {total}，款项将按原支付方式退回。",
        "Your order {number} has been refunded ({total}) to the original payment method.",
    ),
}


def add_defaults(apps, schema_editor):
    ReplyTemplate = apps.get_model("orders", "ReplyTemplate")
    for status, (chinese, english) in DEFAULTS.items():
        for language, text in (("zh-hans", chinese), ("en", english)):
            ReplyTemplate.objects.get_or_create(
                status=status, language=language, defaults={"text": text}
            )


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_replytemplate")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
