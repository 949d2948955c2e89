"""Write the large files the import benchmark times (docs/benchmarks.md, "Import").

    python bench/make_import_files.py [--rows 100000] [--out DIR]

customers.csv has one customer per row; orders.csv has one row per order item (1–3 items an
order) for those customers, so import the customers first. Chinese headers on purpose: the
path real shops' files take. Deterministic, so runs compare.
"""

import argparse
import csv
import random
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
PRODUCTS = [
    ("无线蓝牙耳机 Pro", "399.00"),
    ("Type-C 数据线", "29.90"),
    ("智能手环 5", "229.00"),
    ("保温杯 500ml", "89.00"),
    ("机械键盘 青轴", "459.00"),
]
STATUSES = ["已付款", "已发货", "已完成", "待付款", "paid", "shipped"]


def customers(rows, rng):
    yield ["业务系统ID", "姓名", "手机", "邮箱", "性别", "会员等级", "公司", "地址"]
    for n in range(rows):
        yield [
            f"U{n:07d}",
            rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            f"+86 13{n % 10} {n:04d} {n % 10000:04d}"[:20],
            f"user{n}@example.com",
            rng.choice(["男", "女", ""]),
            rng.choice(["普通会员", "黄金会员", "silver", ""]),
            "杭州云帆科技有限公司" if n % 7 == 0 else "",
            f"浙江省杭州市西湖区文三路{n % 900 + 1}号",
        ]


def orders(rows, customer_count, rng):
    yield ["订单号", "业务系统ID", "状态", "运费", "优惠", "下单时间", "商品", "数量", "单价"]
    written = 0
    n = 0
    while written < rows:
        number = f"SO{n:08d}"
        customer = f"U{rng.randrange(customer_count):07d}"
        status = rng.choice(STATUSES)
        placed = f"2025-{n % 12 + 1:02d}-{n % 28 + 1:02d} {n % 24:02d}:{n % 60:02d}:00"
        for i in range(min(rng.randint(1, 3), rows - written)):
            product, price = rng.choice(PRODUCTS)
            first = i == 0
            yield [
                number,
                customer if first else "",
                status if first else "",
                "10.00" if first else "",
                "5.00" if first else "",
                placed if first else "",
                product,
                rng.randint(1, 3),
                price,
            ]
            written += 1
        n += 1


def write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    print(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    rng = random.Random(20250308)  # noqa: S311 -- test data, not secrets
    write(args.out / "customers.csv", customers(args.rows, rng))
    write(args.out / "orders.csv", orders(args.rows, args.rows, rng))


if __name__ == "__main__":
    main()
