"""The Flink side of the streaming pipeline: PyFlink DataStream jobs and their deployment.

``features`` and ``windows`` are plain Python (NumPy and the C++ engine) so that they are tested
without Flink; ``jobs`` builds the PyFlink pipelines around them; ``deploy`` submits them.
"""
