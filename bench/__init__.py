"""Benchmarks of mailcmd against raw aiosmtpd: throughput, latency, CPU and memory."""
