from django.db import migrations, models

from customers.phones import LastDigits


class Migration(migrations.Migration):
    """An index on a phone's last four digits, for the admin's search by the digits a caller
    reads out (尾号): RIGHT(phone, 4) = '5678' finds the customers among 100,000 in well under a
    millisecond, where phone LIKE '%5678' reads them all.

    The admin's search (customers/admin.py) builds the same expression, which is what makes
    PostgreSQL and SQLite use the index.
    """

    dependencies = [
        ("customers", "0003_customer_revision"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(LastDigits("phone"), name="customer_phone_last4_idx"),
        ),
    ]
