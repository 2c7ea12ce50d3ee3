"""Tools that measure the app from outside the library: the benchmark and the classroom load test."""
