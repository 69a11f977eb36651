# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bearer tokens shared by the worker processes of one ansible-playbook run, in memory only.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Ansible forks a new worker process for every task and host, so a token fetched by one task dies with
its worker. The MSP tenant's play runs six tasks against one tenant; without sharing it signs in six
times. This cache is an anonymous shared memory mapping (never a file: nothing reaches the disk) that
the controller creates before it forks the workers, so every worker of the run - and nobody else -
reads and appends to the same region. It disappears with the ansible-playbook process.

Entries are keyed by a salted SHA-256 of everything that identifies the credential and the scope
(method, authority, tenant, client id, secret or certificate, scope): another credential for the same
tenant never sees the token. A token is reused while it has more than REFRESH_MARGIN seconds left.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import multiprocessing
import os
import struct
import time

SIZE = 8 * 1024 * 1024          # virtual size; only the pages written to use memory (about 2 KB per token)
REFRESH_MARGIN = 300            # seconds: a token that expires sooner is fetched again
LOCK_TIMEOUT = 5.0              # a worker killed while holding the lock must not stall the others
_HEADER = struct.Struct("<Q")   # bytes used
_ENTRY = struct.Struct("<32sdI")  # key digest, expires_on (epoch s), token length


class SharedTokenCache:
    """Append-only token log in a MAP_SHARED anonymous mapping; the last entry for a key wins."""

    def __init__(self, size=SIZE):
        self._map = mmap.mmap(-1, size)  # anonymous and shared across fork()
        self._lock = multiprocessing.get_context("fork").Lock()
        self._salt = os.urandom(16)
        self._owner = os.getpid()
        self.hits = 0
        self.misses = 0

    @property
    def shared(self):
        """True in a process forked after the cache was made (the workers), False in the process that made it."""
        return os.getpid() != self._owner

    def _digest(self, identity):
        return hashlib.sha256(self._salt + json.dumps(identity, sort_keys=True, default=str).encode()).digest()

    def get(self, identity):
        """The cached token for ``identity`` (a tuple of the credential's fields and the scope), or None."""
        key = self._digest(identity)
        if not self._lock.acquire(timeout=LOCK_TIMEOUT):
            return None
        try:
            found = None
            used = _HEADER.unpack_from(self._map, 0)[0]
            offset = _HEADER.size
            while offset < _HEADER.size + used:
                digest, expires_on, length = _ENTRY.unpack_from(self._map, offset)
                start = offset + _ENTRY.size
                if digest == key:
                    found = (expires_on, bytes(self._map[start:start + length]))
                offset = start + length
        finally:
            self._lock.release()
        if found and found[0] - time.time() > REFRESH_MARGIN:
            self.hits += 1
            return found[1].decode("ascii")
        self.misses += 1
        return None

    def put(self, identity, token, expires_on):
        """Remember ``token`` until ``expires_on``; a full cache keeps what it has (the next task signs in)."""
        key = self._digest(identity)
        data = token.encode("ascii")
        if not self._lock.acquire(timeout=LOCK_TIMEOUT):
            return False
        try:
            used = _HEADER.unpack_from(self._map, 0)[0]
            offset = _HEADER.size + used
            end = offset + _ENTRY.size + len(data)
            if end > len(self._map):
                return False
            _ENTRY.pack_into(self._map, offset, key, float(expires_on), len(data))
            self._map[offset + _ENTRY.size:end] = data
            _HEADER.pack_into(self._map, 0, end - _HEADER.size)
            return True
        finally:
            self._lock.release()


class SharedPacer:
    """The time (time.monotonic(), one clock for every process) of each tenant's last Conditional Access request,
    shared by the run's workers, so that a task starting right after another one still keeps 1 request/second.

    A fixed table of tenant slots (open addressing); when it is full, a tenant is paced within its task only.
    """

    SLOT = struct.Struct("<16sd")

    def __init__(self, slots=8192):
        self.slots = slots
        self._map = mmap.mmap(-1, slots * self.SLOT.size)
        self._lock = multiprocessing.get_context("fork").Lock()

    def _find(self, tenant):
        key = hashlib.md5(str(tenant).lower().encode(), usedforsecurity=False).digest()
        start = int.from_bytes(key[:4], "little") % self.slots
        for probe in range(self.slots):
            index = (start + probe) % self.slots
            found, _stamp = self.SLOT.unpack_from(self._map, index * self.SLOT.size)
            if found == key or found == bytes(16):
                return index, key, found == key
        return None, key, False

    def last(self, tenant):
        if not self._lock.acquire(timeout=LOCK_TIMEOUT):
            return None
        try:
            index, _key, present = self._find(tenant)
            return self.SLOT.unpack_from(self._map, index * self.SLOT.size)[1] if present else None
        finally:
            self._lock.release()

    def mark(self, tenant, when):
        if not self._lock.acquire(timeout=LOCK_TIMEOUT):
            return
        try:
            index, key, _present = self._find(tenant)
            if index is not None:
                self.SLOT.pack_into(self._map, index * self.SLOT.size, key, when)
        finally:
            self._lock.release()
