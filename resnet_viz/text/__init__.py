"""Words: locale lookup (en, zh), refusals as keys, the papers' claims as data, and readings of measured numbers."""
