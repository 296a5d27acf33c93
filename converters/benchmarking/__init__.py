"""Latency and memory: on this machine (``measure``), on an ARM64 board over SSH or a phone over
adb (``remote``)."""
