"""`python -m tools bench`: every speed claim of the README measured side by side in one run."""
