"""The Kafka side of the streaming pipeline: topics, the API's producer, status, and the job hook.

confluent-kafka is imported lazily (it belongs to the ``streaming`` extra), so that importing this
package costs nothing on a server without streaming.
"""
