"""Realistic demo data: Chinese customers with visitor ids on several channels, their orders,
and a few follow-ups.

Every record is derived from a fixed random seed and its position, so a second run finds
everything in place and creates nothing; a larger `--customers` adds only the new ones.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from customers import history
from customers.models import Customer, FollowUp, Tag, VisitorIdentity
from orders.models import Order, OrderItem

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬燕彬鹏辉俊峰建国建华志强海燕婷婷晓东文博子涵浩然欣怡梓萱宇轩一诺思雨佳怡雨桐"  # noqa: E501
PINYIN = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu"]
MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "outlook.com"]
COMPANIES = [
    "",
    "",
    "杭州云帆科技有限公司",
    "深圳市前海星辰贸易有限公司",
    "北京智远信息技术有限公司",
    "上海浦江餐饮管理有限公司",
    "广州白云电子商务有限公司",
    "成都天府文化传媒有限公司",
    "苏州工业园区博达精密机械有限公司",
]
CITIES = [
    ("北京市", "朝阳区建国路88号"),
    ("上海市", "浦东新区世纪大道100号"),
    ("广州市", "天河区天河路385号"),
    ("深圳市", "南山区科技园南区深南大道9988号"),
    ("杭州市", "西湖区文三路478号"),
    ("成都市", "锦江区春熙路南段8号"),
    ("南京市", "鼓楼区中山北路30号"),
    ("武汉市", "洪山区珞喻路1037号"),
    ("西安市", "雁塔区小寨东路126号"),
    ("苏州市", "姑苏区观前街58号"),
]
PRODUCTS = [
    ("无线蓝牙耳机 Pro", "EAR-PRO-01", Decimal("399.00")),
    ("智能手环 5", "BAND-5-BLK", Decimal("229.00")),
    ("65W 氮化镓快充充电器", "CHG-65W", Decimal("129.00")),
    ("机械键盘 青轴", "KB-MX-BLUE", Decimal("459.00")),
    ("人体工学办公椅", "CHAIR-ERG-02", Decimal("1299.00")),
    ("有机绿茶 250g", "TEA-GRN-250", Decimal("88.00")),
    ("不锈钢保温杯 500ml", "CUP-SS-500", Decimal("69.90")),
    ("纯棉四件套 1.8m", "BED-COT-18", Decimal("359.00")),
    ("空气净化器 X3", "AIR-X3", Decimal("1899.00")),
    ("儿童绘本套装(10册)", "BOOK-KID-10", Decimal("158.00")),
    ("便携咖啡机", "COF-PORT-1", Decimal("499.00")),
    ("羊毛围巾", "SCARF-WL-GRY", Decimal("199.00")),
]
CARRIERS = [("顺丰速运", "SF"), ("中通快递", "ZTO"), ("圆通速递", "YT"), ("京东物流", "JDL")]
TAGS = ["老客户", "高价值", "投诉过", "企业采购", "待回访", "新客户"]
FOLLOW_UPS = [
    "回电确认退款是否到账",
    "发票开好后通知客户",
    "确认换货是否已收到",
    "询问新品试用感受",
    "提醒客户补充收货地址",
]
AGENTS = ["客服小美", "客服阿强", "客服小林"]
REMARKS = ["", "", "喜欢周末收货", "发票抬头为公司名称", "电话沟通前请先发短信", "对价格敏感"]
LEVEL_WEIGHTS = [
    (Customer.Level.REGULAR, 60),
    (Customer.Level.SILVER, 22),
    (Customer.Level.GOLD, 12),
    (Customer.Level.DIAMOND, 6),
]
CHANNELS = [
    VisitorIdentity.Channel.WEB,
    VisitorIdentity.Channel.APP,
    VisitorIdentity.Channel.WECHAT,
    VisitorIdentity.Channel.WEIBO,
    VisitorIdentity.Channel.WECOM,
]
IM_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
OPENID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
STATUSES = list(Order.Status)


def external_id_for(index):
    return f"DEMO{index:06d}"


def visitor_id(rng, channel, index):
    if channel == VisitorIdentity.Channel.WEB:
        return "webim-visitor-" + "".join(rng.choices(IM_ALPHABET, k=20))
    if channel == VisitorIdentity.Channel.APP:
        return f"app-user-{index:06d}-" + "".join(rng.choices(IM_ALPHABET, k=6)).lower()
    if channel == VisitorIdentity.Channel.WECHAT:
        return "o" + "".join(rng.choices(OPENID_ALPHABET, k=27))
    if channel == VisitorIdentity.Channel.WEIBO:
        return str(rng.randrange(1_000_000_000, 9_999_999_999))
    # WeCom user ids are names chosen by the company; the index keeps them unique.
    return "".join(rng.choices(PINYIN, k=2)).capitalize() + f"{index:04d}"


class Command(BaseCommand):
    help = (
        "Create realistic demo customers and orders (safe to run again: adds only what is missing)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers", type=int, default=60, help="How many demo customers (default 60)."
        )

    def handle(self, *args, customers, **options):
        if customers < 0:
            self.stderr.write("--customers must be zero or more.")
            return
        now = timezone.now()
        with transaction.atomic(), history.recorded_as(history.BY_COMMAND, command="seed_demo"):
            tags = {name: Tag.objects.get_or_create(name=name)[0] for name in TAGS}
            wanted = {external_id_for(i): i for i in range(1, customers + 1)}
            existing = set(
                Customer.objects.filter(external_id__in=wanted).values_list(
                    "external_id", flat=True
                )
            )
            created_customers = created_orders = 0
            for external_id, index in wanted.items():
                if external_id in existing:
                    continue
                created_orders += self._create_customer(index, now, tags)
                created_customers += 1
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {created_customers} customers and {created_orders} orders created "
                f"({len(existing)} demo customers were already there)."
            )
        )

    def _create_customer(self, index, now, tags):
        """Create demo customer number `index` with its visitor ids and orders; return the
        number of orders created."""
        # One generator per customer, seeded by its position, so the data does not depend on
        # which customers already exist.
        rng = random.Random(index * 7919)
        surname = rng.choice(SURNAMES)
        name = surname + "".join(rng.choices(GIVEN, k=rng.choice([1, 2])))
        phone = "1" + rng.choice("3456789") + "".join(rng.choices("0123456789", k=9))
        city, street = rng.choice(CITIES)
        levels, weights = zip(*LEVEL_WEIGHTS, strict=True)
        customer = Customer.objects.create(
            name=name,
            nickname=rng.choice(["", "", name[-1] + name[-1], "小" + name[-1], "阿" + surname]),
            gender=rng.choice([Customer.Gender.MALE, Customer.Gender.FEMALE]),
            phone=phone,
            email=f"{rng.choice(PINYIN)}{index:04d}@{rng.choice(MAIL_DOMAINS)}",
            external_id=external_id_for(index),
            company=rng.choice(COMPANIES),
            address=f"{city}{street}{rng.randrange(1, 30)}栋{rng.randrange(101, 2600)}室",
            qq=str(rng.randrange(10_000_000, 2_999_999_999)) if rng.random() < 0.5 else "",
            wechat=f"wx_{rng.choice(PINYIN)}{rng.randrange(100, 9999)}"
            if rng.random() < 0.6
            else "",
            level=rng.choices(levels, weights)[0],
            remarks=rng.choice(REMARKS),
            created_at=now - timedelta(days=rng.randrange(30, 900)),
        )
        customer.tags.set(rng.sample(list(tags.values()), k=rng.choice([0, 1, 1, 2])))
        # Most customers reach support from one or two channels; a few from three.
        channels = rng.sample(CHANNELS, k=rng.choice([1, 1, 2, 3]))
        for channel in channels:
            seen = now - timedelta(days=rng.randrange(0, 200))
            VisitorIdentity.objects.create(
                visitor_im_id=visitor_id(rng, channel, index),
                customer=customer,
                channel=channel,
                bound_via=VisitorIdentity.BoundVia.STAFF,
                first_seen_at=seen - timedelta(days=rng.randrange(0, 300)),
                last_seen_at=seen,
            )
        order_count = rng.choice([0, 1, 2, 3, 4, 5, 6, 8])
        for n in range(order_count):
            self._create_order(rng, customer, index, n, now, city, street)
        # About one customer in five has something to follow up: some overdue, some today,
        # some later, so that the admin's due list has something in it.
        if rng.random() < 0.2:
            FollowUp.objects.create(
                customer=customer,
                due_at=now + timedelta(hours=rng.randrange(-72, 120)),
                what=rng.choice(FOLLOW_UPS),
                agent_name=rng.choice(AGENTS),
                created_at=now - timedelta(days=rng.randrange(1, 5)),
            )
        return order_count

    def _create_order(self, rng, customer, index, n, now, city, street):
        # Half the orders within the last 45 days, as a shop at work has them: the admin's
        # dashboard then shows a month of sales.
        days = rng.randrange(0, 45) if rng.random() < 0.5 else rng.randrange(0, 720)
        placed = now - timedelta(days=days, minutes=rng.randrange(0, 1440))
        # Cycle through the statuses so that every status appears even in a small data set.
        status = STATUSES[(index + n) % len(STATUSES)]
        paid = placed + timedelta(minutes=rng.randrange(1, 90))
        shipped = paid + timedelta(hours=rng.randrange(3, 72))
        carrier, prefix = rng.choice(CARRIERS)
        is_shipped = status in (Order.Status.SHIPPED, Order.Status.COMPLETED)
        order = Order(
            number=f"{placed:%Y%m%d}{index:06d}{n:02d}",
            customer=customer,
            status=status,
            shipping_fee=rng.choice([Decimal("0.00"), Decimal("0.00"), Decimal("12.00")]),
            discount=rng.choice([Decimal("0.00"), Decimal("0.00"), Decimal("10.00")]),
            placed_at=placed,
            paid_at=paid if status != Order.Status.PENDING else None,
            shipped_at=shipped if is_shipped else None,
            recipient=customer.name,
            recipient_phone=customer.phone,
            shipping_address=f"{city}{street}",
            carrier=carrier if is_shipped else "",
            tracking_number=f"{prefix}{rng.randrange(10**11, 10**12)}" if is_shipped else "",
        )
        order.save()
        history.bulk_create(
            OrderItem,
            [
                OrderItem(
                    order=order,
                    product_name=product,
                    sku=sku,
                    quantity=rng.choice([1, 1, 1, 2, 3]),
                    unit_price=price,
                )
                for product, sku, price in rng.sample(PRODUCTS, k=rng.choice([1, 1, 2, 3]))
            ],
        )
        order.recalculate_total()
