"""The producer behind ``POST /stream/publish`` and the job hook.

Idempotent (no duplicates from retries, per-partition order kept) with ``acks=all``; every
message is keyed (events by ``stream_id``, job features by job id) with the Java clients' murmur2
partitioner, so that any Kafka producer keying the same way lands a stream on the same partition.
A call returns only once the broker acknowledged every message of the batch, or raises
:class:`BrokerUnavailableError` after the delivery timeout: a caller that got an answer has its
messages in the log.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_DELIVERY_TIMEOUT_MS = 10_000


class BrokerUnavailableError(RuntimeError):
    """The broker did not acknowledge in time (unreachable, or the topic is missing)."""


@dataclass(frozen=True)
class Delivered:
    partition: int
    offset: int


@dataclass(frozen=True)
class OutgoingMessage:
    key: bytes
    value: bytes


class KafkaPublisher:
    """One idempotent producer with its own polling thread; safe to share between requests."""

    def __init__(
        self,
        bootstrap: str,
        *,
        delivery_timeout_ms: int = DEFAULT_DELIVERY_TIMEOUT_MS,
        extra: dict[str, Any] | None = None,
    ) -> None:
        from confluent_kafka import Producer

        self.bootstrap = bootstrap
        self._timeout_s = delivery_timeout_ms / 1000
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": "murmur2_random",
                # A few ms of linger: fewer, larger produce requests; at 2 ms the broker thread
                # used several times the CPU (per event) with 4 clients publishing.
                "linger.ms": 5,
                "compression.type": "lz4",
                "message.timeout.ms": delivery_timeout_ms,
                "queue.buffering.max.messages": 1_000_000,
                **(extra or {}),
            }
        )
        self._closed = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_forever, name="kafka-producer-poll", daemon=True
        )
        self._poller.start()

    def _poll_forever(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)

    def _produce_all(
        self, topic: str, messages: Sequence[OutgoingMessage], on_delivery: Any
    ) -> None:
        from confluent_kafka import KafkaException

        for index, message in enumerate(messages):
            callback = _indexed(on_delivery, index)
            while True:
                try:
                    self._producer.produce(topic, message.value, message.key, on_delivery=callback)
                    break
                except BufferError:
                    self._producer.poll(0.05)  # the local queue is full: let deliveries drain
                except KafkaException as exc:
                    raise BrokerUnavailableError(f"Kafka refused the message: {exc}") from exc

    async def publish(self, topic: str, messages: Sequence[OutgoingMessage]) -> list[Delivered]:
        """Produce ``messages`` and wait for every acknowledgement, in the order given."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        results: list[Delivered | None] = [None] * len(messages)
        errors: list[str] = []
        pending = [len(messages)]

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def on_delivery(index: int, err: Any, msg: Any) -> None:  # runs on the poll thread
            if err is not None:
                errors.append(str(err))
            else:
                results[index] = Delivered(msg.partition(), msg.offset())
            pending[0] -= 1
            if pending[0] == 0:
                loop.call_soon_threadsafe(settle)

        if not messages:
            return []
        await asyncio.to_thread(self._produce_all, topic, messages, on_delivery)
        try:
            # librdkafka fails each message after message.timeout.ms; the margin covers the poll.
            await asyncio.wait_for(done, timeout=self._timeout_s + 5)
        except TimeoutError as exc:
            raise BrokerUnavailableError(self._unreachable(topic)) from exc
        if errors:
            raise BrokerUnavailableError(f"{self._unreachable(topic)}: {errors[0]}")
        return [r for r in results if r is not None]

    def publish_blocking(self, topic: str, messages: Sequence[OutgoingMessage]) -> list[Delivered]:
        """:meth:`publish` for synchronous callers (worker threads)."""
        results: list[Delivered | None] = [None] * len(messages)
        errors: list[str] = []
        pending = [len(messages)]
        done = threading.Event()

        def on_delivery(index: int, err: Any, msg: Any) -> None:  # runs on the poll thread
            if err is not None:
                errors.append(str(err))
            else:
                results[index] = Delivered(msg.partition(), msg.offset())
            pending[0] -= 1
            if pending[0] == 0:
                done.set()

        if not messages:
            return []
        self._produce_all(topic, messages, on_delivery)
        if not done.wait(self._timeout_s + 5):
            raise BrokerUnavailableError(self._unreachable(topic))
        if errors:
            raise BrokerUnavailableError(f"{self._unreachable(topic)}: {errors[0]}")
        return [r for r in results if r is not None]

    def _unreachable(self, topic: str) -> str:
        return (
            f"the Kafka broker at {self.bootstrap} did not acknowledge the messages to "
            f"{topic} within {self._timeout_s:g} s"
        )

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._closed.set()
        self._poller.join()


def _indexed(callback: Any, index: int) -> Any:
    return lambda err, msg: callback(index, err, msg)


_publishers: dict[str, KafkaPublisher] = {}
_publishers_lock = threading.Lock()


def shared_publisher(bootstrap: str) -> KafkaPublisher:
    """The process's producer for ``bootstrap``, created on first use."""
    with _publishers_lock:
        publisher = _publishers.get(bootstrap)
        if publisher is None:
            timeout_ms = int(
                os.environ.get("KAFKA_DELIVERY_TIMEOUT_MS", DEFAULT_DELIVERY_TIMEOUT_MS)
            )
            publisher = _publishers[bootstrap] = KafkaPublisher(
                bootstrap, delivery_timeout_ms=timeout_ms
            )
        return publisher


def close_publishers() -> None:
    with _publishers_lock:
        while _publishers:
            _publishers.popitem()[1].close()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def partition_ranges(
    deliveries: Iterable[Delivered], counts: Iterable[int]
) -> dict[int, tuple[int, int, int]]:
    """``{partition: (events, first offset, last offset)}`` of a batch's acknowledgements, the
    messages carrying ``counts`` events each."""
    ranges: dict[int, tuple[int, int, int]] = {}
    for d, events in zip(deliveries, counts, strict=True):
        count, first, last = ranges.get(d.partition, (0, d.offset, d.offset))
        ranges[d.partition] = (count + events, min(first, d.offset), max(last, d.offset))
    return ranges
