import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from iframe_panel import visitor_info
from iframe_panel.crypto import encrypt
from iframe_panel.models import VisitorInfo
from iframe_panel.params import Value

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
KEY = "123456789"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def load(client, visitor_im_id=VISITOR, **params):
    return client.get(PANEL, {"visitorImId": visitor_im_id, "lang": "en", **params})


def cached(visitor_im_id=VISITOR):
    return VisitorInfo.objects.get(visitor_im_id=visitor_im_id)


def test_it_persists_custom_params(client, db):
    r = load(client, name="Jack", age="40", sex="man")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Pushed by the visitor's app" in html
    assert ">Jack<" in html
    assert cached().params == {"name": "Jack", "age": "40", "sex": "man"}


def test_it_persists_decrypted_values(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = load(client, name=encrypt("Jack", KEY), city=encrypt("杭州", KEY))
    assert r.status_code == 200
    info = cached()
    assert info.params == {"name": "Jack", "city": "杭州"}
    assert info.param_meta["name"]["unverified"] is False


def test_it_persists_unverified_plaintext_with_its_mark(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    load(client, name="Jack")
    r = load(client)
    assert r.status_code == 200
    assert cached().param_meta["name"]["unverified"] is True
    assert 'data-unverified="true"' in r.content.decode()


def test_a_later_load_without_them_still_shows_them(client, db):
    load(client, name="Jack", age="40")
    r = load(client)
    assert r.status_code == 200
    html = r.content.decode()
    assert ">Jack<" in html
    assert ">40<" in html
    assert 'class="muted small updated"' in html


def test_it_shows_when_each_value_was_updated(client, db):
    load(client, name="Jack")
    info = cached()
    two_hours_ago = timezone.now() - timedelta(hours=2)
    info.param_meta["name"]["updated_at"] = two_hours_ago.isoformat()
    info.save()
    r = load(client)
    assert r.status_code == 200
    assert "updated 2\xa0hours ago" in r.content.decode()


def test_the_newest_value_wins_and_other_keys_stay(client, db):
    load(client, name="Jack", age="40")
    r = load(client, name="Rose", city="杭州")
    assert r.status_code == 200
    assert cached().params == {"name": "Rose", "age": "40", "city": "杭州"}
    html = r.content.decode()
    assert ">Rose<" in html
    assert ">Jack<" not in html


def test_an_empty_value_does_not_erase_a_cached_one(client, db):
    load(client, name="Jack")
    r = load(client, name="")
    assert r.status_code == 200
    assert cached().params == {"name": "Jack"}


def test_it_keeps_each_visitors_info_apart(client, db):
    load(client, "visitor-a", name="Jack")
    r = load(client, "visitor-b")
    assert r.status_code == 200
    assert ">Jack<" not in r.content.decode()
    assert not VisitorInfo.objects.filter(visitor_im_id="visitor-b").exists()


def test_it_does_not_cache_session_or_call_params(client, db):
    r = load(client, agentName="Amy", ssid="s-1", callId="call-42", name="Jack")
    assert r.status_code == 200
    assert cached().params == {"name": "Jack"}


def test_it_writes_nothing_without_custom_params(client, db):
    r = load(client, agentName="Amy")
    assert r.status_code == 200
    assert 'id="visitor-info"' not in r.content.decode()
    assert not VisitorInfo.objects.exists()


def test_it_keeps_the_newest_keys_when_there_are_too_many(db):
    visitor_info.merge(VISITOR, {f"old{i}": Value("x") for i in range(visitor_info.MAX_KEYS)})
    visitor_info.merge(VISITOR, {f"new{i}": Value("y") for i in range(10)})
    params = cached().params
    assert len(params) == visitor_info.MAX_KEYS
    assert all(f"new{i}" in params for i in range(10))


def test_merge_marks_the_time_of_each_value(db):
    before = timezone.now()
    visitor_info.merge(VISITOR, {"name": Value("Jack")})
    [entry] = visitor_info.entries(cached())
    assert entry.name == "name"
    assert entry.text == "Jack"
    assert entry.updated_at >= before


def test_trusted_leaves_out_unverified_values(db):
    info = visitor_info.merge(
        VISITOR, {"customUserId": Value("U1001", unverified=True), "name": Value("Jack")}
    )
    assert visitor_info.trusted(info) == {"name": "Jack"}


# --- concurrent loads of one visitor ----------------------------------------------------------

THREADS = 8
LOADS = 5


def run_threads(work):
    errors = []

    def target(n):
        try:
            work(n)
        except Exception as exc:  # noqa: BLE001 - collected and reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.fixture
def real_database():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "SQLite's shared-cache in-memory test database reports 'table is locked' at once "
            "instead of waiting for the lock; this test runs on PostgreSQL and file SQLite"
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_merges_lose_no_key(real_database):
    def work(n):
        for i in range(LOADS):
            visitor_info.merge(VISITOR, {f"t{n}k{i}": Value(f"{n}-{i}")})

    errors = run_threads(work)
    assert errors == []
    params = cached().params
    assert len(params) == THREADS * LOADS
    assert params["t7k4"] == "7-4"


@pytest.mark.django_db(transaction=True)
def test_concurrent_panel_loads_lose_no_key(real_database):
    statuses = []

    def work(n):
        client = Client()
        for i in range(LOADS):
            r = client.get(PANEL, {"visitorImId": VISITOR, f"t{n}k{i}": f"{n}-{i}"})
            statuses.append(r.status_code)

    errors = run_threads(work)
    assert errors == []
    assert statuses == [200] * (THREADS * LOADS)
    params = cached().params
    assert len(params) == THREADS * LOADS
    assert params["t0k0"] == "0-0"
