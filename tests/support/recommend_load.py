"""A steady /recommend load from two threads, for tests that change the app under traffic."""

from __future__ import annotations

import threading
import time

import httpx


class Load:
    """Two threads sending /recommend until stopped; every answer is kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[int, str, list[str]]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(2)]

    def _send(self, n: int) -> None:
        with httpx.Client(timeout=60) as client:
            user = n
            while not self._stop.is_set():
                user = user % 150 + 1
                body = {"user_id": user, "k": 5, "debug": True}
                try:
                    answer = client.post(f"{self.url}/recommend", json=body)
                except httpx.HTTPError as error:
                    self.answers.append((0, str(error), []))
                    continue
                if answer.status_code != 200:
                    self.answers.append((answer.status_code, answer.text, []))
                    continue
                reply = answer.json()
                rank = next(t["model"] for t in reply["trace"] if t["stage"] == "rank")
                self.answers.append((200, rank, reply["degraded"]))

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.answers) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        self.wait_for(5)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def failures(self) -> list[tuple[int, str, list[str]]]:
        return [a for a in self.answers if a[0] != 200 or a[2]]
