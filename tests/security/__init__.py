"""Security tests: each pins a bound (seconds, bytes, count) a hostile client cannot break."""
