"""Security tests: each pins a bound (seconds, bytes, count) that a hostile client must not break."""
