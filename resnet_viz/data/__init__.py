"""Data the app generates itself: the synthetic shapes data set (images, object masks, labels)."""
