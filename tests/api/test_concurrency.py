"""Concurrent writers over HTTP: acknowledged = stored, conflicts are 409s, never a 5xx."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from fastapi.testclient import TestClient

from tests.api.support import PR, Auth, active_case, fact_body, ok

CLIENTS, FACTS = 8, 50
WRITERS = [("ggz", "deelnemer"), ("woningcorporatie", "deelnemer"), ("politie", "melder"), PR]


def _run(workers: list[threading.Thread]) -> None:
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not any(worker.is_alive() for worker in workers)


class TestConcurrentFacts:
    """8 clients x 50 facts on one case."""

    def test_if_match_writers(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        statuses: Counter[int] = Counter()
        versions: list[int] = []
        lock = threading.Lock()

        def writer(n: int) -> None:
            headers = auth.headers(WRITERS[n % len(WRITERS)])
            version, written, misses = setup.version, 0, 0
            while written < FACTS:
                body = fact_body(setup.subject_id, text=f"client {n} fact {written}")
                response = client.post(
                    url, json=body, headers={**headers, "If-Match": f'"{version}"'}
                )
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code == 201:
                    written, misses = written + 1, 0
                    version = response.json()["version"]
                    with lock:
                        versions.append(version)
                elif response.status_code == 409:
                    version, misses = response.json()["current_version"], misses + 1
                    # A polite client backs off exponentially (with jitter) after a conflict.
                    time.sleep(random.uniform(0, 0.004 * 2 ** min(misses, 5)))
                else:
                    return

        _run([threading.Thread(target=writer, args=(n,)) for n in range(CLIENTS)])
        print(f"If-Match writers: {dict(statuses)}")
        assert set(statuses) <= {201, 409}
        assert statuses[201] == CLIENTS * FACTS == len(set(versions))
        stored = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(PR)))
        assert len(stored["facts"]) == CLIENTS * FACTS
        assert stored["version"] == setup.version + CLIENTS * FACTS

    def test_unconditional_writers_share_commits(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        results: list[tuple[int, str, int]] = []
        lock = threading.Lock()

        def writer(n: int) -> None:
            headers = auth.headers(WRITERS[n % 2])
            for i in range(FACTS):
                response = client.post(
                    url, json=fact_body(setup.subject_id, text=f"{n}/{i}"), headers=headers
                )
                body = response.json()
                with lock:
                    results.append(
                        (response.status_code, body.get("fact_id", ""), body.get("version", 0))
                    )

        _run([threading.Thread(target=writer, args=(n,)) for n in range(CLIENTS)])
        assert {status for status, _, _ in results} == {201}
        assert (
            len({fact for _, fact, _ in results})
            == len({v for _, _, v in results})
            == CLIENTS * FACTS
        )
        stored = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(PR)))
        assert sorted(f["fact_id"] for f in stored["facts"]) == sorted(f for _, f, _ in results)
