"""The PyFlink DataStream jobs.

``tda-windows``: ``<prefix>raw_data_events`` keyed by ``stream_id`` -> count-based sliding windows
(:mod:`tda_backend.flink.windows`) -> one JSON message per window to
``<prefix>tda_feature_results``.

``tda-validation``: ``<prefix>tda_feature_results`` -> count the feature messages per kind and log
them (the design's validation job).

Delivery: the Kafka source's offsets and the window state are checkpointed together, so after a
failure every event is in its windows exactly once. The sink is at-least-once by default (a window
emitted after the last checkpoint is emitted again, identical, after a restart: consumers keep the
last message per ``(stream_id, window_index)``), or exactly-once with ``exactly_once=True``
(Kafka transactions committed on checkpoints: read with ``isolation.level=read_committed``; results
then appear only after each checkpoint).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from tda_backend.flink import embedded
from tda_backend.flink.windows import (
    DimensionMismatchError,
    StreamWindows,
    WindowSpec,
    parse_events,
)

log = logging.getLogger("tda_backend.flink")

WINDOW_JOB = "tda-windows"
VALIDATION_JOB = "tda-validation"


@dataclass(frozen=True)
class JobOptions:
    bootstrap: str
    raw_topic: str
    results_topic: str
    window_group: str
    validation_group: str
    spec: WindowSpec
    parallelism: int = 1
    checkpoint_interval_ms: int = 2000
    exactly_once: bool = False
    bundle_time_ms: int = 50
    # The window job's: "thread" runs its function in an interpreter the TaskManager embeds (no
    # bundles, no worker process: see docs/benchmarks.md, streaming), "process" in Python
    # worker processes. The validation job runs in worker processes.
    execution_mode: str = "thread"
    jars: list[str] = field(default_factory=list)
    # The Python of the workers that run the UDFs: one with tda_backend and its engine installed.
    python_executable: str = sys.executable
    flink_config: dict[str, str] = field(default_factory=dict)


def _environment(options: JobOptions, execution_mode: str, site_dirs: tuple[str, ...]) -> Any:
    from pyflink.common import Configuration
    from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment

    config = Configuration()
    for key, value in {
        # Process mode: bundles of at most bundle_time_ms, a window's result leaves the Python
        # worker within that; at 20 ms the workers and the JVM spent more CPU per event on
        # bundle round trips and state write-backs (docs/benchmarks.md, streaming).
        "python.fn-execution.bundle.time": str(options.bundle_time_ms),
        "python.fn-execution.bundle.size": "1000",
        "python.execution-mode": execution_mode,
        "pipeline.jars": ";".join(options.jars),
        "python.executable": options.python_executable,
        **options.flink_config,
    }.items():
        config.set_string(key, value)
    if site_dirs:
        # Thread mode's embedded interpreter finds PyFlink and its runtime there, and the rest of
        # the environment is set up as the function is unpickled (tda_backend.flink.embedded);
        # a worker process (process mode) has these directories already.
        config.set_string("python.pythonpath", os.pathsep.join(site_dirs))
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(options.parallelism)
    env.set_buffer_timeout(10)
    env.enable_checkpointing(options.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    return env


def _source(options: JobOptions, topic: str, group: str) -> Any:
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import (
        KafkaOffsetResetStrategy,
        KafkaOffsetsInitializer,
        KafkaSource,
    )

    return (
        KafkaSource.builder()
        .set_bootstrap_servers(options.bootstrap)
        .set_topics(topic)
        .set_group_id(group)
        # A new deployment resumes where the group's committed offsets (committed on each
        # completed checkpoint) left off; the first one reads the topic from the start.
        .set_starting_offsets(
            KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)
        )
        .set_value_only_deserializer(SimpleStringSchema())
        .set_property("partition.discovery.interval.ms", "60000")
        # A fetch waits 20 ms for messages (or 1 MiB of them) instead of returning with the
        # first one: at most about 50 fetch requests per second and reader for the broker and
        # the source's fetcher thread whatever the rate, for at most 20 ms more latency.
        .set_property("fetch.min.bytes", str(1 << 20))
        .set_property("fetch.max.wait.ms", "20")
        .build()
    )


def _sink(options: JobOptions, name: str) -> Any:
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink

    builder = (
        KafkaSink.builder()
        .set_bootstrap_servers(options.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(options.results_topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        # Windows leave in batches of up to 20 ms: fewer produce requests for the broker.
        .set_property("linger.ms", "20")
        # As the API's producer: a window's diagrams are a few kB of JSON digits.
        .set_property("compression.type", "lz4")
    )
    if options.exactly_once:
        builder = (
            builder.set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .set_transactional_id_prefix(name)
            .set_property("transaction.timeout.ms", "900000")
        )
    else:
        builder = builder.set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
    return builder.build()


def sliding_windows(site_dirs: tuple[str, ...], **spec: Any) -> Any:
    """The window job's function for the window ``spec`` (:class:`WindowSpec`'s fields); it
    pickles as a call of :func:`tda_backend.flink.embedded.rebuild` with ``site_dirs``, the
    site directories of the workers' Python."""
    from pyflink.common import Types
    from pyflink.datastream import KeyedProcessFunction, RuntimeContext
    from pyflink.datastream.state import ValueStateDescriptor

    window_spec = WindowSpec(**spec)

    class SlidingWindows(KeyedProcessFunction):  # type: ignore[misc]
        """Per stream, one state value: its :class:`StreamWindows` as plain ints and bytes
        (events still needed, count, last diagrams), read and written once per message whatever
        the number of its events."""

        def __reduce__(self) -> Any:
            return embedded.rebuild, (
                site_dirs,
                __name__,
                "sliding_windows",
                {"site_dirs": site_dirs, **spec},
            )

        def open(self, runtime_context: RuntimeContext) -> None:
            self.windows = runtime_context.get_state(
                ValueStateDescriptor("windows", Types.PICKLED_BYTE_ARRAY())
            )

        def process_element(self, raw: str, ctx: Any) -> Any:
            batch = parse_events(raw)
            if batch is None:
                log.warning("skipped a message that is not an event: %.200s", raw)
                return
            state = self.windows.value()
            windows = (
                StreamWindows(window_spec, batch.stream_id)
                if state is None
                else StreamWindows.restore(window_spec, batch.stream_id, state)
            )
            try:
                messages = windows.add(batch.points, batch.ingested_ms)
            except DimensionMismatchError as exc:
                log.warning("skipped a message: %s", exc)
                return
            self.windows.update(windows.state())
            yield from messages

    return SlidingWindows()


# A message that starts with its stream_id, as the API writes them, and whose stream_id has no
# escape: the key is the text between the quotes, found without parsing the message (JSON_VALUE
# parses all of it, points included). Anything else goes through JSON_VALUE.
_LEADING_STREAM_ID = r'^\{\s*"stream_id"\s*:\s*"([^"\\]*)"'


def _keyed_by_stream(env: Any, messages: Any) -> Any:
    """``messages`` keyed by their ``stream_id``, read in the JVM.

    PyFlink's ``key_by`` runs its key selector in a Python operator: every message would cross
    to the Python workers and back once before the windows. Here the Table API reads the key in
    Java: a message that starts with its ``stream_id`` (the API's do) by a regular expression
    over its first bytes, any other by ``JSON_VALUE`` (a message without a string ``stream_id``
    gets the key ``''``; the window operator skips it). The rows ``(stream_id, message)`` are
    keyed on their first field by the Java key selector PyFlink's ``key_by`` itself uses; the
    keyed Python operator receives the message (the row's second field) as its input."""
    from pyflink.common import Types
    from pyflink.datastream.data_stream import KeyedStream
    from pyflink.java_gateway import get_gateway
    from pyflink.table import StreamTableEnvironment

    tables = StreamTableEnvironment.create(env)
    tables.create_temporary_view("raw_messages", tables.from_data_stream(messages))
    rows = tables.to_append_stream(
        tables.sql_query(
            f"SELECT CASE WHEN REGEXP(f0, '{_LEADING_STREAM_ID}') "
            f"THEN REGEXP_EXTRACT(f0, '{_LEADING_STREAM_ID}', 1) "
            "ELSE COALESCE(JSON_VALUE(f0, '$.stream_id'), '') END AS stream_id, f0 AS message "
            "FROM raw_messages"
        ),
        Types.ROW([Types.STRING(), Types.STRING()]),
    )
    key_type = Types.ROW([Types.STRING()]).get_java_type_info()
    j_keyed = rows._j_data_stream.keyBy(get_gateway().jvm.KeyByKeySelector(), key_type)
    return KeyedStream(j_keyed, Types.STRING(), rows)


def build_window_job(options: JobOptions) -> Any:
    from pyflink.common import Types, WatermarkStrategy

    site_dirs = embedded.site_directories(options.python_executable)
    env = _environment(options, options.execution_mode, site_dirs)
    embedded.pickle_by_value()
    messages = env.from_source(
        _source(options, options.raw_topic, options.window_group),
        WatermarkStrategy.no_watermarks(),
        "raw events",
    )
    # One Python operator: each message crosses into Python once, as the string it came as.
    (
        _keyed_by_stream(env, messages)
        .process(
            sliding_windows(site_dirs, **dataclasses.asdict(options.spec)),
            output_type=Types.STRING(),
        )
        .name("sliding windows -> persistence")
        .sink_to(_sink(options, WINDOW_JOB))
        .name("feature results")
    )
    return env


def _count_and_log(kind: str) -> Any:
    from pyflink.common import Types
    from pyflink.datastream import KeyedProcessFunction, RuntimeContext
    from pyflink.datastream.state import ValueStateDescriptor

    class CountFeatures(KeyedProcessFunction):  # type: ignore[misc]
        def open(self, runtime_context: RuntimeContext) -> None:
            self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

        def process_element(self, value: Any, ctx: Any) -> Any:
            count = (self.count.value() or 0) + 1
            self.count.update(count)
            line = f"feature message #{count} of kind {value[0]}: {value[1]}"
            log.info(line)
            yield line

    return CountFeatures()


def _summary(raw: str) -> Any:
    import json

    from pyflink.common import Row

    try:
        body = json.loads(raw)
        kind = str(body.get("kind", "unknown"))
        ident = (
            f"job {body.get('job_id')}"
            if kind == "job"
            else f"stream {body.get('stream_id')} window {body.get('window_index')}"
        )
        return Row(kind, f"{ident} betti={body.get('betti')}")
    except (ValueError, AttributeError):
        return Row("invalid", raw[:200])


def build_validation_job(options: JobOptions) -> Any:
    from pyflink.common import Types, WatermarkStrategy

    env = _environment(options, "process", ())
    results = env.from_source(
        _source(options, options.results_topic, options.validation_group),
        WatermarkStrategy.no_watermarks(),
        "feature results",
    )
    (
        results.map(_summary, output_type=Types.ROW([Types.STRING(), Types.STRING()]))
        .key_by(lambda row: row[0], key_type=Types.STRING())
        .process(_count_and_log("features"), output_type=Types.STRING())
        .name("count and log features")
        .print()
    )
    return env
