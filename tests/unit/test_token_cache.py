"""The run-wide token cache (plugins/plugin_utils/_token_cache.py): shared across fork, keyed by credential."""

import os
import time

from ansible_collections.msp.conditional_access.plugins.plugin_utils._token_cache import REFRESH_MARGIN, SharedTokenCache

ID = ("client_secret", "https://login", "tenant-a", "app", "secret", None, None, "https://graph/.default")


def test_a_token_put_in_a_forked_child_is_seen_by_the_parent_and_later_children():
    cache = SharedTokenCache(size=64 * 1024)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0 if cache.put(ID, "token-1", time.time() + 3600) else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert cache.get(ID) == "token-1"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0 if cache.get(ID) == "token-1" else 1)
    assert os.waitpid(pid, 0)[1] == 0


def test_another_secret_scope_or_tenant_never_sees_the_token():
    cache = SharedTokenCache(size=64 * 1024)
    cache.put(ID, "token-1", time.time() + 3600)
    for index, other in ((4, "other-secret"), (7, "api://cipp/.default"), (2, "tenant-b")):
        identity = list(ID)
        identity[index] = other
        assert cache.get(tuple(identity)) is None


def test_a_token_close_to_expiry_is_not_reused_and_the_newest_entry_wins():
    cache = SharedTokenCache(size=64 * 1024)
    cache.put(ID, "old", time.time() + REFRESH_MARGIN - 1)
    assert cache.get(ID) is None
    cache.put(ID, "new", time.time() + 3600)
    assert cache.get(ID) == "new"


def test_a_full_cache_keeps_what_it_has():
    cache = SharedTokenCache(size=200)
    assert cache.put(ID, "x" * 100, time.time() + 3600)
    assert not cache.put(ID, "y" * 100, time.time() + 3600)
    assert cache.get(ID) == "x" * 100


def test_the_secret_is_not_stored_in_the_mapping():
    cache = SharedTokenCache(size=64 * 1024)
    cache.put(ID, "token-1", time.time() + 3600)
    assert b"secret" not in bytes(cache._map[:4096])


def test_the_pacer_shares_each_tenants_last_request_across_fork():
    from ansible_collections.msp.conditional_access.plugins.plugin_utils._token_cache import SharedPacer

    pacer = SharedPacer(slots=4)
    assert pacer.last("tenant-a") is None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        pacer.mark("TENANT-A", 123.5)
        os._exit(0)
    os.waitpid(pid, 0)
    assert pacer.last("tenant-a") == 123.5
    for name in ("b", "c", "d", "e"):   # more tenants than slots: the extra one is not shared, and no error
        pacer.mark(name, 1.0)
    assert pacer.last("tenant-a") == 123.5 and pacer.last("e") is None
