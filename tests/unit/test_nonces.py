"""The nonce source: random 96-bit nonces, each handed out once, never shared with a fork."""

from __future__ import annotations

import os
import threading

from ledger._sealing import NONCE_BYTES, NonceSource, nonce_source


def test_nonces_are_twelve_bytes_and_never_repeat_across_refills() -> None:
    source = NonceSource(batch=16)
    nonces = [source.take() for _ in range(5_000)]
    assert {len(n) for n in nonces} == {NONCE_BYTES}
    assert len(set(nonces)) == len(nonces)


def test_threads_never_get_the_same_nonce() -> None:
    source = NonceSource(batch=8)
    taken: list[list[bytes]] = [[] for _ in range(4)]

    def take(into: list[bytes]) -> None:
        for _ in range(5_000):
            into.append(source.take())

    threads = [threading.Thread(target=take, args=(t,)) for t in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [n for t in taken for n in t]
    assert len(every) == 20_000
    assert len(set(every)) == len(every)


def test_a_forked_child_does_not_hand_out_the_parents_next_nonces() -> None:
    source = NonceSource(batch=256)
    source.take()  # the parent now holds 255 unused nonces
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first nonce and leave at once
        os.close(read_end)
        os.write(write_end, source.take())
        os._exit(0)
    os.close(write_end)
    child_nonce = os.read(read_end, NONCE_BYTES)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert len(child_nonce) == NONCE_BYTES
    parents_next = [source.take() for _ in range(255)]
    assert child_nonce not in parents_next


def test_the_process_has_one_source() -> None:
    assert nonce_source() is nonce_source()
